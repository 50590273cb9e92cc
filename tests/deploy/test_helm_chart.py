"""The Helm chart (deploy/helm/labstac), rendered and checked without a cluster.

`helm lint --strict` and `helm template` on the default values (plus the one required value)
and on the production example; every rendered manifest through kubeconform, strict, against
Kubernetes 1.37's schemas and the ServiceMonitor CRD's, offline (scripts/tools.sh builds
them); then what an operator relies on, read from the rendered YAML: one beat, readiness on
/readyz, the migrate hook before anything else exists, secrets only in Secrets, requests on
every container, unique worker names, the autoscaler on the API, and settings that
labstac's own settings class accepts.

The tools are installed by `scripts/tools.sh install` (`make test` runs it); when they are
missing these tests fail, saying so: they never skip.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from indexer.settings import Settings, load_settings

pytestmark = pytest.mark.tools

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "labstac"
PRODUCTION = CHART / "examples" / "production.yaml"
KUBERNETES_VERSION = "1.37.0"
GITLAB = "https://gitlab.example.com"
# Made-up secrets: none of them may show up outside a Secret.
SECRETS = {
    "LABSTAC_GITLAB_TOKEN": "glpat-madeup-gitlab-token-5c1f",
    "LABSTAC_WEBHOOK_SECRETS": "madeup-webhook-secret-7a2e,madeup-webhook-secret-9d4b",
    "LABSTAC_OPENSEARCH_PASSWORD": "madeup-opensearch-password-3e8a",
    "LABSTAC_OAUTH_CLIENT_SECRET": "madeup-oauth-client-secret-1b6c",
    "LABSTAC_MLFLOW_TOKEN": "madeup-mlflow-token-4f0d",
    "LABSTAC_METRICS_TOKEN": "madeup-metrics-token-8c3a",
    "LABSTAC_REDIS_URL": "redis://:madeup-redis-password-2d7f@redis-master:6379/0",
}
SECRET_NEEDLES = [
    *SECRETS.values(),
    *SECRETS["LABSTAC_WEBHOOK_SECRETS"].split(","),
    "madeup-redis-password-2d7f",
]
WORKLOADS = {"Deployment", "Job", "CronJob"}


@dataclass(frozen=True)
class Tools:
    helm: Path
    kubeconform: Path
    schemas: Path


@pytest.fixture(scope="module")
def tools() -> Tools:
    # Where scripts/tools.sh puts them.
    services_home = os.environ.get("LABSTAC_SERVICES_HOME", "/var/tmp/labstac")  # noqa: S108
    home = Path(os.environ.get("LABSTAC_TOOLS_HOME") or Path(services_home, "tools"))
    found = Tools(home / "bin" / "helm", home / "bin" / "kubeconform", home / "schemas")
    missing = [
        str(path)
        for path in (
            found.helm,
            found.kubeconform,
            found.schemas / "kubernetes" / f"v{KUBERNETES_VERSION}-standalone-strict",
            found.schemas / "crds" / "monitoring.coreos.com" / "servicemonitor_v1.json",
        )
        if not path.exists()
    ]
    if missing:
        pytest.fail(
            f"the chart's tools are missing ({', '.join(missing)}): run `scripts/tools.sh install` "
            "(make test does), or set LABSTAC_TOOLS_HOME to where they are"
        )
    return found


def helm(tools: Tools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.helm), *args], capture_output=True, text=True, timeout=60, check=False
    )


def template(tools: Tools, *args: str) -> str:
    done = helm(tools, "template", "labstac", str(CHART), "--namespace", "catalog", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def documents(rendered: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def sets(*assignments: str, flag: str = "--set") -> list[str]:
    return [word for assignment in assignments for word in (flag, assignment)]


def secret_args() -> list[str]:
    # A comma would split the webhook secrets into a list: it is escaped.
    escaped = {name: value.replace(",", "\\,") for name, value in SECRETS.items()}
    return sets(*(f"secrets.values.{k}={v}" for k, v in escaped.items()), flag="--set-string")


# The renderings under test: the default values with the required one, the same with every
# optional part on and made-up secrets, and the production example.
RENDERINGS: dict[str, list[str]] = {
    "default": sets(f"gitlab.url={GITLAB}"),
    "everything": [
        *sets(
            f"gitlab.url={GITLAB}",
            "opensearch.username=labstac",
            "opensearch.caCerts.configMapName=opensearch-ca",
            "reindex.enabled=true",
            "serviceMonitor.enabled=true",
            "networkPolicy.enabled=true",
            "ingress.enabled=true",
            "api.autoscaling.enabled=true",
            "api.pdb.enabled=true",
            "worker.pdb.enabled=true",
            "oauth.clientId=madeup-client-id",
            "mlflow.url=https://mlflow.example.com",
        ),
        *sets("categories.content=categories: []", flag="--set-string"),
        *secret_args(),
    ],
    "production": ["-f", str(PRODUCTION)],
}


@pytest.fixture(scope="module")
def rendered(tools: Tools) -> dict[str, str]:
    return {name: template(tools, *args) for name, args in RENDERINGS.items()}


@pytest.fixture(scope="module")
def docs(rendered: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    return {name: documents(text) for name, text in rendered.items()}


def one(docs: list[dict[str, Any]], kind: str, name_suffix: str) -> dict[str, Any]:
    found = [
        doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"].endswith(name_suffix)
    ]
    assert len(found) == 1, f"{len(found)} {kind} named *{name_suffix}"
    return found[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (doc for doc in docs if doc["kind"] in WORKLOADS)


def is_hook(doc: dict[str, Any]) -> bool:
    return "helm.sh/hook" in (doc["metadata"].get("annotations") or {})


# ------------------------------------------------------------------ lint and schemas


@pytest.mark.parametrize("values", ["default", "production"])
def test_helm_lint_strict(tools: Tools, values: str) -> None:
    args = RENDERINGS[values]
    done = helm(tools, "lint", "--strict", str(CHART), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def kubeconform(tools: Tools, manifests: str) -> dict[str, Any]:
    kubernetes = tools.schemas / "kubernetes"
    crds = tools.schemas / "crds"
    done = subprocess.run(
        [
            str(tools.kubeconform),
            "-strict",
            "-summary",
            "-verbose",
            *("-output", "json"),
            *("-kubernetes-version", KUBERNETES_VERSION),
            "-schema-location",
            f"{kubernetes}/{{{{ .NormalizedKubernetesVersion }}}}-standalone{{{{ .StrictSuffix }}}}"
            "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            f"{crds}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json",
            "-",
        ],
        input=manifests,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"kubeconform said: {done.stdout}{done.stderr}")
    report["returncode"] = done.returncode
    return report


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_every_manifest_is_valid_kubernetes(
    tools: Tools, rendered: dict[str, str], docs: dict[str, list[dict[str, Any]]], name: str
) -> None:
    report = kubeconform(tools, rendered[name])
    problems = [r for r in report["resources"] if r["status"] != "statusValid"]
    assert not problems, problems
    summary = report["summary"]
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0
    assert summary["valid"] == len(docs[name]) > 0
    assert report["returncode"] == 0
    kinds = {r["kind"] for r in report["resources"]}
    assert {"Deployment", "Service", "ConfigMap", "Job"} <= kinds
    if name in {"production", "everything"}:
        assert {"ServiceMonitor", "HorizontalPodAutoscaler", "Ingress", "CronJob"} <= kinds


def test_kubeconform_refuses_what_kubernetes_would(tools: Tools, rendered: dict[str, str]) -> None:
    """The schemas do validate: a misspelt field of a Deployment and of the ServiceMonitor,
    and a kind without a schema, are refused, not waved through."""
    text = rendered["production"]
    assert "          readinessProbe:" in text and "      path: /metrics" in text
    broken = text.replace("          readinessProbe:", "          readinesProbe:").replace(
        "      path: /metrics", "      pathx: /metrics"
    )
    broken += "\n---\napiVersion: example.com/v1\nkind: Unknown\nmetadata:\n  name: x\n"
    report = kubeconform(tools, broken)
    refused = {
        (r["kind"], r["status"]) for r in report["resources"] if r["status"] != "statusValid"
    }
    assert refused == {
        ("Deployment", "statusInvalid"),
        ("ServiceMonitor", "statusInvalid"),
        ("Unknown", "statusError"),
    }
    assert report["returncode"] != 0


# ----------------------------------------------------------------- what operators need


def test_missing_gitlab_url_stops_the_rendering(tools: Tools) -> None:
    done = helm(tools, "template", "labstac", str(CHART))
    assert done.returncode != 0
    assert "gitlab.url is required" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "beat.replicas=2"], "additional properties 'replicas' not allowed"),
        (["--set", "api.replica=3"], "additional properties 'replica' not allowed"),
        (["--set", "env.LABSTAC_GITLAB_TOKEN=x"], "env.LABSTAC_GITLAB_TOKEN is a secret"),
        (
            ["--set", "secrets.existingSecret=s", "--set", "secrets.values.LABSTAC_GITLAB_TOKEN=x"],
            "secrets.values.LABSTAC_GITLAB_TOKEN is set with secrets.existingSecret",
        ),
    ],
)
def test_values_that_would_break_a_deployment_are_refused(
    tools: Tools, args: list[str], message: str
) -> None:
    done = helm(tools, "template", "labstac", str(CHART), "--set", f"gitlab.url={GITLAB}", *args)
    assert done.returncode != 0
    assert message in done.stderr


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_exactly_one_beat(docs: dict[str, list[dict[str, Any]]], name: str) -> None:
    beat = one(docs[name], "Deployment", "-beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec(beat)["containers"][0]["args"] == ["beat"]


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_api_probes(docs: dict[str, list[dict[str, Any]]], name: str) -> None:
    (api,) = pod_spec(one(docs[name], "Deployment", "-api"))["containers"]
    assert api["args"][0] == "serve"
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    # `labstac status` (exit 3 on a backend outage) is never a probe, anywhere.
    for doc in workloads(docs[name]):
        for container in containers(pod_spec(doc)):
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                assert "exec" not in container.get(probe, {})


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_migrate_is_a_hook_that_needs_nothing_the_release_creates(
    docs: dict[str, list[dict[str, Any]]], name: str
) -> None:
    job = one(docs[name], "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["activeDeadlineSeconds"] > 0
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    assert container["args"] == ["migrate"]
    # At pre-install none of the release's regular resources exist: whatever the Job reads
    # is either not the chart's (the operator's Secrets) or a hook created before it.
    weight = int(annotations["helm.sh/hook-weight"])
    rendered = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs[name]}
    referenced: set[tuple[str, str]] = set()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            referenced.add(("ConfigMap", source["configMapRef"]["name"]))
        if "secretRef" in source:
            referenced.add(("Secret", source["secretRef"]["name"]))
    for variable in container.get("env", []):
        ref = variable.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            referenced.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
        if "secretKeyRef" in ref:
            referenced.add(("Secret", ref["secretKeyRef"]["name"]))
    for volume in spec["volumes"]:
        sources = volume.get("projected", {}).get("sources", [volume])
        for source in sources:
            if "secret" in source:
                secret = source["secret"]
                referenced.add(("Secret", secret.get("secretName") or secret["name"]))
            if "configMap" in source:
                referenced.add(("ConfigMap", source["configMap"]["name"]))
    assert spec.get("serviceAccountName") not in {
        doc["metadata"]["name"] for doc in docs[name] if doc["kind"] == "ServiceAccount"
    }
    for key in referenced:
        if key in rendered:
            dependency = rendered[key]
            assert is_hook(dependency), f"{key} is not there yet at pre-install"
            hook = dependency["metadata"]["annotations"]
            assert "pre-install" in hook["helm.sh/hook"]
            assert "pre-upgrade" in hook["helm.sh/hook"]
            assert int(hook["helm.sh/hook-weight"]) < weight
    if name == "everything":
        # The chart's own password reaches the Job through a hook Secret holding only it.
        hook_secret = one(docs[name], "Secret", "-migrate")
        assert set(hook_secret["data"]) == {"LABSTAC_OPENSEARCH_PASSWORD"}
        assert ("Secret", hook_secret["metadata"]["name"]) in referenced


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def test_secrets_live_only_in_secrets(docs: dict[str, list[dict[str, Any]]]) -> None:
    everything = docs["everything"]
    leaks = [
        f"{doc['kind']}/{doc['metadata']['name']}{path}"
        for doc in everything
        if doc["kind"] != "Secret"
        for path, text in strings(doc)
        for needle in SECRET_NEEDLES
        if needle in text
    ]
    assert not leaks, leaks
    # They are all in the chart's Secret, which every long-running pod mounts.
    secret = one(everything, "Secret", "labstac")
    stored = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert stored == SECRETS
    configmap = one(everything, "ConfigMap", "labstac")
    assert not set(configmap["data"]) & set(SECRETS)
    for name, rendering in docs.items():
        for doc in workloads(rendering):
            for container in containers(pod_spec(doc)):
                for variable in container.get("env", []):
                    assert variable["name"] not in SECRETS, (name, doc["metadata"]["name"])
                    assert "@" not in variable.get("value", ""), (name, variable["name"])


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_every_container_asks_for_resources_and_runs_locked_down(
    docs: dict[str, list[dict[str, Any]]], name: str
) -> None:
    found = 0
    for doc in workloads(docs[name]):
        spec = pod_spec(doc)
        assert spec["automountServiceAccountToken"] is False
        assert spec["enableServiceLinks"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in containers(spec):
            found += 1
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            requests = container.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= set(requests), where
            assert "memory" in container["resources"].get("limits", {}), where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert {"/tmp", "/var/lib/labstac/state"} <= set(mounts), where  # noqa: S108
            # LABSTAC_SECRETS_DIR is set where, and only where, the secrets are mounted.
            env = {v["name"]: v.get("value") for v in container.get("env", [])}
            secrets_dir = env.get("LABSTAC_SECRETS_DIR")
            assert (secrets_dir is not None) == ("secrets" in mounts.values()), where
            if secrets_dir:
                assert mounts[secrets_dir] == "secrets", where
    assert found >= 4


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_each_worker_has_its_own_name(docs: dict[str, list[dict[str, Any]]], name: str) -> None:
    worker = one(docs[name], "Deployment", "-worker")
    (container,) = pod_spec(worker)["containers"]
    args = container["args"]
    assert args[0] == "worker"
    assert args[args.index("--name") + 1] == "labstac@$(POD_NAME)"
    assert args[args.index("--concurrency") + 1].isdigit()
    pod_name = next(v for v in container["env"] if v["name"] == "POD_NAME")
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # Long enough for a task's warm shutdown (a project's reads stop within 45 s).
    assert pod_spec(worker)["terminationGracePeriodSeconds"] >= 180


def test_production_shape(docs: dict[str, list[dict[str, Any]]]) -> None:
    production = docs["production"]
    api = one(production, "Deployment", "-api")
    hpa = one(production, "HorizontalPodAutoscaler", "-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": api["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] == 3
    # The autoscaler owns the replica count: the Deployment does not fight it.
    assert "replicas" not in api["spec"]
    pdb = one(production, "PodDisruptionBudget", "-api")
    assert pdb["spec"]["selector"]["matchLabels"] == api["spec"]["selector"]["matchLabels"]
    assert one(production, "Deployment", "-worker")["spec"]["replicas"] == 4
    # Existing Secrets only: the chart creates none holding a secret.
    assert not [doc for doc in production if doc["kind"] == "Secret"]
    settings = one(production, "ConfigMap", "labstac")["data"]
    assert len(settings["LABSTAC_OPENSEARCH_URL"].split(",")) == 3
    assert settings["LABSTAC_OPENSEARCH_URL"].startswith("https://")
    assert (settings["LABSTAC_INDEX_SHARDS"], settings["LABSTAC_INDEX_REPLICAS"]) == ("1", "1")
    assert "LABSTAC_REDIS_URL" not in settings  # it carries a password: from the Secret
    ingress = one(production, "Ingress", "labstac")
    assert ingress["spec"]["tls"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = one(production, "Service", "-api")
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}


@pytest.mark.parametrize("name", ["production", "everything"])
def test_servicemonitor_scrapes_the_api_with_the_token(
    docs: dict[str, list[dict[str, Any]]], name: str
) -> None:
    monitor = one(docs[name], "ServiceMonitor", "-api")
    service = one(docs[name], "Service", "-api")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    credentials = endpoint["authorization"]["credentials"]
    assert credentials["key"] == "LABSTAC_METRICS_TOKEN"
    expected = "labstac-secrets" if name == "production" else "labstac"
    assert credentials["name"] == expected


def secret_files(spec: dict[str, Any], rendering: list[dict[str, Any]]) -> dict[str, str]:
    """The files the pod's secrets folder would hold: from the chart's Secrets as rendered,
    and made-up values standing in for the operator's existing Secrets."""
    rendered = {
        doc["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
        for doc in rendering
        if doc["kind"] == "Secret"
    }
    files: dict[str, str] = {}
    for volume in spec["volumes"]:
        if volume["name"] != "secrets":
            continue
        sources = [source["secret"] for source in volume["projected"]["sources"]]
        mapped = {item["path"] for secret in sources for item in secret.get("items", [])}
        for secret in sources:
            if secret["name"] in rendered:
                data = rendered[secret["name"]]
            else:
                # An existing Secret, its keys named like the variables (the chart's README);
                # it holds none of those secrets.extra maps in.
                data = {k: v for k, v in SECRETS.items() if k not in mapped}
            items = secret.get("items") or [{"key": key, "path": key} for key in data]
            for item in items:
                assert item["path"] not in files, f"{item['path']} comes from two Secrets"
                files[item["path"]] = data.get(item["key"], SECRETS.get(item["path"], "x"))
    return files


def settings_of(
    container: dict[str, Any], configmaps: dict[str, dict[str, str]], files: dict[str, str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Settings:  # fmt: skip
    """labstac's settings as that container would build them."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(configmaps[source["configMapRef"]["name"]])
    env.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    for name in list(os.environ):
        if name.startswith("LABSTAC_"):
            monkeypatch.delenv(name)
    if "LABSTAC_SECRETS_DIR" in env:
        folder = tmp_path / container["name"]
        folder.mkdir()
        for variable, value in files.items():
            (folder / variable).write_text(value)
        env["LABSTAC_SECRETS_DIR"] = str(folder)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.mark.parametrize("name", list(RENDERINGS))
def test_labstac_accepts_the_rendered_settings(
    docs: dict[str, list[dict[str, Any]]], name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every container's settings, from its ConfigMap, env and secrets folder, pass
    labstac's own settings class (a malformed one would stop the pod with exit code 2)."""
    rendering = docs[name]
    configmaps = {
        doc["metadata"]["name"]: doc.get("data", {})
        for doc in rendering
        if doc["kind"] == "ConfigMap"
    }
    checked = 0
    for doc in workloads(rendering):
        spec = pod_spec(doc)
        for container in containers(spec):
            files = secret_files(spec, rendering)
            settings = settings_of(container, configmaps, files, tmp_path, monkeypatch)
            checked += 1
            assert str(settings.gitlab_url).rstrip("/") == GITLAB
            assert settings.host == "0.0.0.0"  # noqa: S104
            assert str(settings.state_dir) == "/var/lib/labstac/state"
            migrate = container["name"] == "migrate"
            if migrate:
                # It reads the one secret it needs, and no other.
                assert set(files) <= {"LABSTAC_OPENSEARCH_PASSWORD"}
                if name != "default":
                    assert settings.opensearch_password is not None
            if name == "production":
                assert settings.index_replicas == 1
                assert len(settings.opensearch_url) == 3
                assert settings.forwarded_allow_ips == ["10.42.0.0/16"]
                assert str(settings.public_url).rstrip("/") == "https://stac.example.com"
                assert str(settings.opensearch_ca_certs) == "/etc/labstac/certs/ca.crt"
                if not migrate:
                    assert "madeup-redis-password" in settings.redis_url_str
            if name == "everything" and not migrate:
                assert settings.gitlab_token is not None
                assert settings.metrics_token is not None
                assert len(settings.webhook_secrets) == 2
                assert "madeup-redis-password" in settings.redis_url_str
                assert str(settings.categories_file) == "/etc/labstac/categories/categories.yaml"
    assert checked >= 4
