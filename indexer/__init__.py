"""labstac's domain: settings, GitLab reading, STAC items, the access model, the search
engine and index writing. It knows neither Starlette nor Celery."""

from indexer.errors import (
    Conflict,
    Invalid,
    LabstacError,
    NotFound,
    SettingsInvalid,
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
    "Unauthorized",
    "UpstreamUnavailable",
    "load_settings",
]
