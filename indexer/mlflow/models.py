"""A registered model as an item links it: its latest version, the run that logged it and
the model file inside that run's artifacts."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

# MLflow SharingHub registers a project's models as "<name> (<GitLab project id>)".
_PROJECT_SUFFIX = re.compile(r"\s*\((\d{1,18})\)$")


@dataclass(frozen=True)
class RegisteredModel:
    name: str  # as registered: "Flood UNet (1)"
    version: str  # the latest version
    run_id: str | None = None
    # The model file, as a path in the run's artifacts ("model/model.pkl"); None when the
    # model's MLmodel file could not be read.
    artifact_file: str | None = None

    @property
    def project_id(self) -> int | None:
        return project_of(self.name)

    @property
    def title(self) -> str:
        """SharingHub's: the name without its project suffix, and the version."""
        return f"{_PROJECT_SUFFIX.sub('', self.name).strip()} v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegisteredModel:
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            run_id=data.get("run_id"),
            artifact_file=data.get("artifact_file"),
        )


def project_of(name: str) -> int | None:
    found = _PROJECT_SUFFIX.search(name)
    return int(found.group(1)) if found else None
