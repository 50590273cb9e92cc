"""Celery app and tasks: GitLab events turned into indexer calls, with retries, coalescing
and schedules. Tasks take ids and re-read state; they never carry a token."""

from workers.app import LabstacCelery, create_celery_app

__all__ = ["LabstacCelery", "create_celery_app"]
