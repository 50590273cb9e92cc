"""labstac's domain. It knows neither Starlette nor Celery.

One room per concept, arrows one way (each may import the rooms above it, never below):

    gitlab/   reading GitLab: snapshots of projects, the facts of who may read them
    access/   the access model: _acl fields, callers, memberships, their cache, the filter
    stac/     STAC items as SharingHub builds them: categories, front matter, assets
    search/   item search as a typed request and its pure translation to the query DSL
    index/    the engine, index layout, versioned writes, reindex, reconcile, the runtime

``access`` and ``stac`` both build on ``gitlab`` and know nothing of each other; ``search``
builds on ``stac``; ``index`` on all but ``search``. Beside the rooms, small infrastructure
that any of them may use: ``settings``, ``errors``, ``logs``, ``redis_client``,
``heartbeat``, ``task_records``, ``progress`` and ``spool``.
"""

from indexer.errors import (
    Conflict,
    Invalid,
    LabstacError,
    NotFound,
    SettingsInvalid,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
)
from indexer.settings import Settings, load_settings

__all__ = [
    "Conflict",
    "Invalid",
    "LabstacError",
    "NotFound",
    "Settings",
    "SettingsInvalid",
    "TooLarge",
    "TooManyRequests",
    "Unauthorized",
    "UpstreamUnavailable",
    "load_settings",
]
