"""The one module that talks to the search engine (OpenSearch, through opensearch-py).

Everything else asks this module; nothing else imports opensearchpy, so that an
Elasticsearch adapter can be added beside it later. opensearch-py errors are translated into
``indexer.errors`` here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from indexer.errors import UpstreamUnavailable
from indexer.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "opensearch"


@dataclass(frozen=True)
class ClusterHealth:
    status: str  # green, yellow or red
    nodes: int
    version: str

    @property
    def usable(self) -> bool:
        # A single node has no replicas, so yellow is its normal healthy state.
        return self.status in ("green", "yellow")


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every client labstac builds (async or not)."""
    url = settings.opensearch_url
    options: dict[str, Any] = {
        "hosts": [str(url)],
        "timeout": settings.opensearch_timeout_seconds,
        "max_retries": 2,
        "retry_on_timeout": True,
    }
    if url.scheme == "https":
        options["use_ssl"] = True
        options["verify_certs"] = settings.opensearch_verify_certs
        if settings.opensearch_ca_certs is not None:
            options["ca_certs"] = str(settings.opensearch_ca_certs)
    if settings.opensearch_username and settings.opensearch_password:
        options["http_auth"] = (
            settings.opensearch_username,
            settings.opensearch_password.get_secret_value(),
        )
    return options


class Engine:
    """Async access to the search engine, for the API."""

    def __init__(self, client: AsyncOpenSearch) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        return cls(AsyncOpenSearch(**client_options(settings)))

    async def close(self) -> None:
        await self._client.close()

    async def health(self) -> ClusterHealth:
        try:
            health = await self._client.cluster.health()
            info = await self._client.info()
        except (OSConnectionError, ConnectionTimeout) as error:
            raise UpstreamUnavailable(SERVICE, "not reachable") from error
        except TransportError as error:
            raise UpstreamUnavailable(SERVICE, f"answered {error.status_code}") from error
        return ClusterHealth(
            status=str(health["status"]),
            nodes=int(health["number_of_nodes"]),
            version=str(info["version"]["number"]),
        )
