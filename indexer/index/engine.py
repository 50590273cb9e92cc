"""The one module that talks to the search engine (OpenSearch, through opensearch-py).

Everything else asks this module; nothing else imports opensearchpy, so that an
Elasticsearch adapter can be added beside it later. opensearch-py errors are translated into
``indexer.errors`` here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch, OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, SerializationError, TransportError
from opensearchpy.exceptions import NotFoundError as OSNotFoundError
from opensearchpy.serializer import JSONSerializer

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


class OrjsonSerializer(JSONSerializer):
    """Request bodies and responses through orjson, several times cheaper than the json
    module for what every search pays. What orjson refuses (integers beyond 64 bits) goes
    through opensearch-py's own serializer, so no document fails for the encoder's sake."""

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as error:
            raise SerializationError(s, error) from error

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        try:
            return orjson.dumps(data, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return super().dumps(data)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every client labstac builds (async or not)."""
    url = settings.opensearch_url
    options: dict[str, Any] = {
        "hosts": [str(url)],
        "timeout": settings.opensearch_timeout_seconds,
        "max_retries": 2,
        "retry_on_timeout": True,
        "serializer": OrjsonSerializer(),
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

    async def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            with _translated():
                result: dict[str, Any] = await self._client.search(index=index, body=body)
        except UpstreamUnavailable as error:
            if isinstance(error.__cause__, OSNotFoundError):  # nothing indexed yet
                return {"hits": {"hits": [], "total": {"value": 0}}, "aggregations": {}}
            raise
        return result

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


# --------------------------------------------------------------- index writing (sync)


@dataclass(frozen=True)
class WriteResult:
    """One bulk item's outcome. A version conflict means a newer read already landed: for
    labstac that is success, counted apart."""

    doc_id: str
    index: str
    outcome: str  # written, deleted, stale (version conflict), absent (delete of nothing), failed
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


@dataclass(frozen=True)
class Write:
    doc_id: str
    version: int
    document: dict[str, Any] | None  # None: a versioned delete (it leaves a tombstone)


class IndexEngine:
    """Sync access to the search engine, for workers and admin commands."""

    def __init__(self, client: OpenSearch) -> None:
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexEngine:
        return cls(OpenSearch(**client_options(settings)))

    def close(self) -> None:
        self._client.close()

    # indices, templates, aliases

    def put_template(self, name: str, patterns: list[str], body: dict[str, Any]) -> None:
        with _translated():
            self._client.indices.put_index_template(
                name=name, body={"index_patterns": patterns, "template": body, "priority": 100}
            )

    def create_index(self, name: str) -> None:
        with _translated():
            self._client.indices.create(index=name)

    def delete_index(self, name: str) -> None:
        with _translated():
            self._client.indices.delete(index=name, ignore_unavailable=True)

    def indices(self, pattern: str) -> list[str]:
        with _translated():
            found = self._client.indices.get(
                index=pattern, ignore_unavailable=True, allow_no_indices=True
            )
        return sorted(found)

    def alias_targets(self, *aliases: str) -> dict[str, list[str]]:
        """Each alias with the indices it points to ([] when it does not exist)."""
        result: dict[str, list[str]] = {alias: [] for alias in aliases}
        with _translated():
            # 404 names the aliases that do not exist; the body still lists those that do.
            found = self._client.indices.get_alias(name=",".join(aliases), ignore=[404])
        for index, entry in found.items():
            if not isinstance(entry, dict):
                continue
            for alias in entry.get("aliases", {}):
                if alias in result:
                    result[alias].append(index)
        return {alias: sorted(indices) for alias, indices in result.items()}

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        """Apply alias changes in one atomic request."""
        with _translated():
            self._client.indices.update_aliases(body={"actions": actions})

    def refresh(self, index: str) -> None:
        with _translated():
            self._client.indices.refresh(index=index)

    def merge(self, index: str, timeout_seconds: float = 3600.0) -> None:
        """Merge the index into one segment (waits: minutes for millions of documents)."""
        with _translated():
            self._client.indices.forcemerge(
                index=index, max_num_segments=1, request_timeout=timeout_seconds
            )

    def count(self, index: str, query: dict[str, Any] | None = None) -> int:
        with _translated():
            body = {"query": query} if query else None
            return int(self._client.count(index=index, body=body)["count"])

    # documents

    def write(self, indices: list[str], writes: list[Write]) -> list[WriteResult]:
        """Versioned upserts and deletes into every index given, in one bulk request."""
        if not writes or not indices:
            return []
        lines: list[dict[str, Any]] = []
        for index in indices:
            for write in writes:
                meta = {
                    "_index": index,
                    "_id": write.doc_id,
                    "version": write.version,
                    "version_type": "external",
                }
                if write.document is None:
                    lines.append({"delete": meta})
                else:
                    lines += [{"index": meta}, write.document]
        with _translated():
            response = self._client.bulk(body=lines)
        results = []
        for item in response["items"]:
            action, outcome = next(iter(item.items()))
            results.append(_write_result(action, outcome))
        return results

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        with _translated():
            result: dict[str, Any] = self._client.search(index=index, body=body)
        return result

    def sources(self, index: str, doc_ids: list[str], source: list[str]) -> dict[str, Any]:
        """The given fields of the documents that exist among ``doc_ids``, by id."""
        if not doc_ids:
            return {}
        with _translated():
            found = self._client.search(
                index=index,
                body={"query": {"ids": {"values": doc_ids}}, "size": len(doc_ids),
                      "_source": source},
            )  # fmt: skip
        return {hit["_id"]: hit["_source"] for hit in found["hits"]["hits"]}

    def documents(
        self, index: str, source: list[str], query: dict[str, Any] | None = None, page: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every matching document (id, version and the given source fields), in doc-key
        order, with search_after."""
        body: dict[str, Any] = {
            "size": page,
            "sort": [{"doc_key": "asc"}],
            "_source": source,
            "version": True,
            "query": query or {"match_all": {}},
        }
        while True:
            with _translated():
                hits = self._client.search(index=index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < page:
                return
            body["search_after"] = hits[-1]["sort"]


def _write_result(action: str, outcome: dict[str, Any]) -> WriteResult:
    doc_id, index, status = str(outcome["_id"]), str(outcome["_index"]), int(outcome["status"])
    if status == 409:
        return WriteResult(doc_id, index, "stale")
    if action == "delete":
        result = outcome.get("result")
        if status == 404 or result == "not_found":
            return WriteResult(doc_id, index, "absent")
    if status >= 300:
        error = outcome.get("error", {})
        reason = f"{error.get('type', status)}: {error.get('reason', '')}".strip()
        return WriteResult(doc_id, index, "failed", reason)
    return WriteResult(doc_id, index, "deleted" if action == "delete" else "written")


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (OSConnectionError, ConnectionTimeout) as error:
        raise UpstreamUnavailable(SERVICE, "not reachable") from error
    except TransportError as error:
        raise UpstreamUnavailable(
            SERVICE, f"answered {error.status_code}: {error.error}"
        ) from error
