"""Access tasks: GitLab said a user's memberships changed, so their cached view goes."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from indexer.access.cache import forget_user as drop_cached_user
from indexer.errors import UpstreamUnavailable
from workers.app import LabstacTask, labstac_app

log = logging.getLogger(__name__)


@shared_task(bind=True, base=LabstacTask, name="labstac.workers.access.forget_user",
             soft_time_limit=10,
             time_limit=20, autoretry_for=(UpstreamUnavailable,), retry_backoff=1,
             retry_jitter=True)  # fmt: skip
def forget_user(self: Task[Any, Any], user_id: int) -> int:
    dropped = drop_cached_user(labstac_app(self.app).redis, int(user_id))
    log.info("user forgotten", extra={"task_id": self.request.id, "user_id": user_id,
                                      "entries": dropped})  # fmt: skip
    return dropped
