"""labstac's one exception tree. Callers catch the base class or a branch; adapters
(the engine, the GitLab reader, the Redis helpers) translate third-party errors into it at
their boundary, and ``api.errors`` maps each branch to one HTTP status.

    LabstacError
    ├── SettingsInvalid        a setting is missing or malformed (stops the program at start)
    ├── Invalid                the caller's input is wrong (HTTP 400)
    │   └── TooLarge           ... because it is larger than a limit allows (HTTP 413)
    ├── TooManyRequests        the caller asked too often; retry later (HTTP 429)
    ├── Unauthorized           the caller's token is unknown, expired or revoked (HTTP 401)
    ├── NotFound               the thing does not exist or may not be seen (HTTP 404)
    ├── Conflict               a newer state already won (HTTP 409)
    └── UpstreamUnavailable    OpenSearch, Redis or GitLab cannot be reached (HTTP 503)
"""

from __future__ import annotations


class LabstacError(Exception):
    """Base of every error labstac raises on purpose."""

    code = "internal_error"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class SettingsInvalid(LabstacError):
    code = "settings_invalid"


class Invalid(LabstacError):
    code = "invalid_request"


class TooLarge(Invalid):
    code = "payload_too_large"


class TooManyRequests(LabstacError):
    code = "too_many_requests"

    def __init__(self, description: str, retry_after_seconds: int) -> None:
        super().__init__(description)
        self.retry_after_seconds = retry_after_seconds


class Unauthorized(LabstacError):
    code = "unauthorized"


class NotFound(LabstacError):
    code = "not_found"


class Conflict(LabstacError):
    code = "conflict"


class UpstreamUnavailable(LabstacError):
    code = "upstream_unavailable"

    def __init__(self, service: str, description: str) -> None:
        super().__init__(f"{service}: {description}")
        self.service = service
