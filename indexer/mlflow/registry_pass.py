"""One pass over MLflow's registry: each project's latest model versions, compared with what
the store holds; the projects whose models changed (new, newer, gone) are the ones whose
items must be built again. MLflow down: the store and the items stay as they were, and the
pass says so in its record."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis import Redis

from indexer.errors import UpstreamUnavailable
from indexer.mlflow.client import MlflowClient
from indexer.mlflow.models import RegisteredModel, project_of
from indexer.mlflow.store import all_models, record_pass, replace_models

log = logging.getLogger(__name__)


@dataclass
class PassOutcome:
    ok: bool
    models: int = 0
    projects: int = 0
    changed: list[int] = field(default_factory=list)
    error: str | None = None


def run_pass(client: MlflowClient, redis: Redis) -> PassOutcome:
    stored = all_models(redis)
    try:
        listed = client.registered_models()
        found: dict[int, list[RegisteredModel]] = {}
        for model in listed:
            project_id = project_of(str(model.get("name", "")))
            if project_id is None:
                continue  # not a project's model (not named by MLflow SharingHub)
            known = {m.name: m for m in stored.get(project_id, ())}
            latest = client.latest(model, known.get(str(model["name"])))
            if latest is not None:
                found.setdefault(project_id, []).append(latest)
    except UpstreamUnavailable as error:
        outcome = PassOutcome(ok=False, error=error.description)
        record_pass(redis, {"ok": False, "error": error.description})
        log.warning("the MLflow pass failed: items keep their model links",
                    extra={"error": error.description})  # fmt: skip
        return outcome
    now = {pid: tuple(sorted(models, key=lambda m: m.name)) for pid, models in found.items()}
    changed = {pid: models for pid, models in now.items() if stored.get(pid) != models}
    gone = sorted(pid for pid in stored if pid not in now)
    replace_models(redis, changed, gone)
    outcome = PassOutcome(
        ok=True,
        models=sum(len(m) for m in now.values()),
        projects=len(now),
        changed=sorted([*changed, *gone]),
    )
    record_pass(redis, {"ok": True, "models": outcome.models, "projects": outcome.projects,
                        "changed": len(outcome.changed)})  # fmt: skip
    return outcome
