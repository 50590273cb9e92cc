"""Kubernetes and ServiceMonitor JSON schemas for kubeconform, offline (scripts/tools.sh).

kubeconform reads one standalone JSON schema per kind from a folder laid out like
yannh/kubernetes-json-schema (``v1.37.0-standalone-strict/deployment-apps-v1.json``). Neither
that repository nor any other schema host is reachable from these machines, so the schemas
are built from two pinned sources that are:

- the ``kubernetes-validate`` wheel (PyPI), whose ``v<version>-local-strict`` folder holds
  one schema per kind whose ``$ref``s point into a shared ``_definitions.json`` by an absolute
  URL kubeconform would try to download. Each kind here gets the definitions it reaches
  inlined under its own ``$defs`` and its references rewritten to ``#/$defs/...``: a
  standalone schema, as kubeconform's default location serves them. Descriptions are left
  out (they are most of the bytes, and do not validate anything).
- prometheus-operator's ServiceMonitor CRD (``servicemonitors-crd.json`` of its Go module),
  whose ``openAPIV3Schema`` per version becomes ``monitoring.coreos.com/servicemonitor_v1.json``
  the way kubeconform's own ``openapi2jsonschema.py`` does it in strict mode: every object
  with properties refuses others, ``int-or-string`` becomes string or integer.

Only the standard library: it runs before any virtualenv exists.

    python3 deploy/offline_schemas.py kubernetes WHEEL VERSION OUT_DIR
    python3 deploy/offline_schemas.py crd CRD_JSON OUT_DIR
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

DEFINITIONS_REF = re.compile(r"^(?:https://kubernetes\.io)?/api/_definitions\.json#/\$defs/(.+)$")


def _strip_descriptions(node: Any) -> Any:
    """The schema without its ``description`` keywords (a property named ``description``,
    a schema itself, stays)."""
    if isinstance(node, dict):
        return {
            key: _strip_descriptions(value)
            for key, value in node.items()
            if not (key == "description" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip_descriptions(value) for value in node]
    return node


def _rewrite_refs(node: Any, reached: set[str]) -> Any:
    """References into ``_definitions.json`` made local; the names reached are collected."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                match = DEFINITIONS_REF.match(value)
                name = match.group(1) if match else value.removeprefix("#/$defs/")
                if match or value.startswith("#/$defs/"):
                    reached.add(name)
                    out[key] = f"#/$defs/{name}"
                    continue
            out[key] = _rewrite_refs(value, reached)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(value, reached) for value in node]
    return node


def _standalone(kind_schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    reached: set[str] = set()
    schema: dict[str, Any] = _rewrite_refs(kind_schema, reached)
    inlined: dict[str, Any] = {}
    pending = sorted(reached)
    while pending:
        name = pending.pop()
        if name in inlined:
            continue
        if name not in definitions:
            raise SystemExit(f"schemas: {name} is referenced but not defined")
        found: set[str] = set()
        inlined[name] = _rewrite_refs(definitions[name], found)
        pending.extend(sorted(found - inlined.keys()))
    schema.pop("$id", None)
    if inlined:
        schema["$defs"] = dict(sorted(inlined.items()))
    return schema


def kubernetes(wheel: Path, version: str, out_dir: Path) -> int:
    """Write ``out_dir/v<version>-standalone-strict/<kind>-<group>-<version>.json`` for every
    kind of the wheel's strict folder; returns how many."""
    folder = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    target = out_dir / f"v{version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.startswith(folder)]
        if not names:
            raise SystemExit(f"schemas: {wheel} has no {folder}")
        shared = json.loads(archive.read(folder + "_definitions.json"))
        definitions = _strip_descriptions(shared["$defs"])
        for name in names:
            filename = name.removeprefix(folder)
            if not filename.endswith(".json") or filename.startswith("_"):
                continue
            schema = _strip_descriptions(json.loads(archive.read(name)))
            # Only top-level kinds (those with an apiVersion and kind) are looked up.
            if "x-kubernetes-group-version-kind" not in schema:
                continue
            standalone = _standalone(schema, definitions)
            (target / filename).write_text(json.dumps(standalone, separators=(",", ":")))
            written += 1
    return written


def _strict_crd(node: Any) -> Any:
    """kubeconform's openapi2jsonschema.py, strict: objects with properties refuse others
    (unless they keep unknown fields), ``int-or-string`` is a string or an integer."""
    if isinstance(node, list):
        return [_strict_crd(value) for value in node]
    if not isinstance(node, dict):
        return node
    if node.get("format") == "int-or-string":
        return {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    out = {key: _strict_crd(value) for key, value in node.items()}
    keeps_unknown = out.get("x-kubernetes-preserve-unknown-fields") is True
    if "properties" in out and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out


def crd(crd_file: Path, out_dir: Path) -> list[str]:
    """Write ``out_dir/<group>/<kind>_<version>.json`` for each served version of the CRD."""
    definition = json.loads(crd_file.read_text())
    if definition.get("kind") != "CustomResourceDefinition":
        raise SystemExit(f"schemas: {crd_file} is not a CustomResourceDefinition")
    spec = definition["spec"]
    group, kind = spec["group"], spec["names"]["kind"].lower()
    written = []
    for version in spec["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        path = out_dir / group / f"{kind}_{version['name']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        strict = _strict_crd(_strip_descriptions(schema))
        path.write_text(json.dumps(strict, separators=(",", ":")))
        written.append(str(path))
    return written


def main(argv: list[str]) -> int:
    if len(argv) == 5 and argv[1] == "kubernetes":
        count = kubernetes(Path(argv[2]), argv[3], Path(argv[4]))
        print(f"schemas: {count} Kubernetes {argv[3]} kinds, standalone and strict")
        return 0
    if len(argv) == 4 and argv[1] == "crd":
        for path in crd(Path(argv[2]), Path(argv[3])):
            print(f"schemas: {path}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
