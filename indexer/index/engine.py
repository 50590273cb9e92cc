"""The one module that talks to the search engine (OpenSearch, through opensearch-py).

Everything else asks this module; nothing else imports opensearchpy, so that an
Elasticsearch adapter can be added beside it later. opensearch-py errors are translated into
``indexer.errors`` here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from opensearchpy import AsyncOpenSearch, OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, SerializationError, TransportError
from opensearchpy.exceptions import NotFoundError as OSNotFoundError
from opensearchpy.serializer import JSONSerializer

from indexer.errors import Invalid, UpstreamUnavailable
from indexer.settings import Settings
from indexer.untrusted import clean_strings

log = logging.getLogger(__name__)

SERVICE = "opensearch"
# Documents read whole at a time when the engine cannot filter their sources.
WHOLE_READ_BATCH = 50


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
    through opensearch-py's own serializer, so no document fails for the encoder's sake.

    A stored document may hold text that is not valid Unicode (a lone surrogate written
    before labstac cleaned every string, or by another writer): orjson refuses the whole
    response then. Such a response is read with the json module, which accepts it, and its
    strings are mended (U+FFFD), so that one bad document never fails a page; the ids of
    the documents mended go to ``on_repaired`` and the log."""

    def __init__(self, on_repaired: Callable[[list[str]], None] | None = None) -> None:
        super().__init__()
        self._on_repaired = on_repaired

    def loads(self, s: str) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as error:
            try:
                data = json.loads(s)
            except (ValueError, RecursionError):
                raise SerializationError(s[:200], error) from error
        repaired = _repair_response(data)
        if repaired:
            log.warning(
                "documents with invalid text served mended",
                extra={"documents": repaired[:20], "count": len(repaired)},
            )
            if self._on_repaired is not None:
                self._on_repaired(repaired)
        return data

    def dumps(self, data: Any) -> Any:
        if isinstance(data, str):
            return data
        try:
            return orjson.dumps(data, default=self.default, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            return super().dumps(data)


def _repair_response(data: Any) -> list[str]:
    """Mend every string of a response, and return the ids of the hits that needed it."""
    repaired: list[str] = []
    hits = data.get("hits", {}).get("hits", []) if isinstance(data, dict) else []
    for hit in hits if isinstance(hits, list) else []:
        if isinstance(hit, dict) and clean_strings(hit)[1]:
            repaired.append(str(hit.get("_id")))
    clean_strings(data)
    return repaired


def client_options(
    settings: Settings, serializer: OrjsonSerializer | None = None
) -> dict[str, Any]:
    """Connection options shared by every client labstac builds (async or not)."""
    urls = settings.opensearch_url
    options: dict[str, Any] = {
        # Several nodes: requests go round the live ones; a node that fails is set aside
        # for a while and the request retried on another (max_retries).
        "hosts": [str(url) for url in urls],
        "timeout": settings.opensearch_timeout_seconds,
        "max_retries": 2 + len(urls) - 1,
        "retry_on_timeout": True,
        "serializer": serializer or OrjsonSerializer(),
    }
    if settings.opensearch_sniff:
        options.update(sniff_on_start=True, sniff_on_connection_fail=True,
                       sniffer_timeout=60)  # fmt: skip
    if str(urls[0]).startswith("https://"):
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
    def from_settings(
        cls, settings: Settings, on_repaired: Callable[[list[str]], None] | None = None
    ) -> Engine:
        options = client_options(settings, OrjsonSerializer(on_repaired))
        return cls(AsyncOpenSearch(**options, maxsize=settings.opensearch_pool_size))

    async def close(self) -> None:
        await self._client.close()

    async def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """A client's search. What the engine refuses as a bad request (a shape it cannot
        use, a value of the wrong type that got through) is the client's ``Invalid``, not
        an outage."""
        try:
            with _translated(refusals_are_invalid=True):
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
        # Ids of the documents this engine read with invalid text (and mended): a
        # reconcile re-indexes their projects, which heals them.
        self.repaired: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexEngine:
        repaired: set[str] = set()
        options = client_options(settings, OrjsonSerializer(repaired.update))
        # One connection per writer thread of a reindex, or urllib3 drops the extra ones.
        engine = cls(OpenSearch(**options, pool_maxsize=settings.opensearch_pool_size))
        engine.repaired = repaired
        return engine

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

    def set_replicas(self, name: str, replicas: int) -> None:
        with _translated():
            current: dict[str, Any] = self._client.indices.get_settings(
                index=name, name="index.number_of_replicas"
            )
            found = [entry.get("settings", {}) for entry in current.values()]
            now = found[0].get("index", {}).get("number_of_replicas") if found else None
            if str(now) != str(replicas):
                self._client.indices.put_settings(
                    index=name, body={"index": {"number_of_replicas": replicas}}
                )

    def add_mappings(self, name: str, mappings: dict[str, Any]) -> bool:
        """Put ``mappings`` onto an existing index: new fields are added in place; False when
        the engine refuses (a field whose type changed: only a reindex brings that)."""
        try:
            with _translated(refusals_are_invalid=True):
                self._client.indices.put_mapping(index=name, body=mappings)
        except Invalid:
            return False
        return True

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
        body = {"query": {"ids": {"values": doc_ids}}, "size": len(doc_ids), "_source": source}
        hits = self._filtered_hits(index, body, source)
        return {hit["_id"]: hit["_source"] for hit in hits}

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
            hits = self._filtered_hits(index, body, source)
            yield from hits
            if len(hits) < page:
                return
            body["search_after"] = hits[-1]["sort"]

    def _filtered_hits(
        self, index: str, body: dict[str, Any], source: list[str]
    ) -> list[dict[str, Any]]:
        """The hits of ``body``, with only the ``source`` fields. The engine filters a
        document's source by parsing it again, and fails the whole request on one it cannot
        parse (invalid text): then the same hits are read whole, their text mended, and
        filtered here, so that one such document never stops a reconcile or a reindex."""
        try:
            with _translated():
                found = self._client.search(index=index, body=body)
        except UpstreamUnavailable as error:
            if not _unparsable(error.__cause__):
                raise  # an outage or a refusal: a heavier read would not help
            log.warning(
                "the engine could not filter documents' sources; reading them whole",
                extra={"index": index, "error": error.description},
            )
            return self._whole_hits(index, body, source)
        hits: list[dict[str, Any]] = found["hits"]["hits"]
        return hits

    def _whole_hits(
        self, index: str, body: dict[str, Any], source: list[str]
    ) -> list[dict[str, Any]]:
        """The hits of ``body`` (ids and sort values, which need no source), then their
        sources read whole, a few at a time, and filtered here."""
        with _translated():
            hits: list[dict[str, Any]] = self._client.search(
                index=index, body={**body, "_source": False}
            )["hits"]["hits"]
        sources: dict[str, Any] = {}
        for start in range(0, len(hits), WHOLE_READ_BATCH):
            ids = [hit["_id"] for hit in hits[start : start + WHOLE_READ_BATCH]]
            with _translated():
                found = self._client.search(
                    index=index,
                    body={"query": {"ids": {"values": ids}}, "size": len(ids), "_source": True},
                )
            sources.update((hit["_id"], hit.get("_source") or {}) for hit in found["hits"]["hits"])
        for hit in hits:
            hit["_source"] = _select(sources.get(hit["_id"], {}), source)
        return hits


def _unparsable(error: BaseException | None) -> bool:
    """Whether the engine failed because it could not parse a stored document again."""
    if not isinstance(error, TransportError) or error.status_code not in (400, 500):
        return False
    return "parse" in json.dumps(error.info, default=str)[:4000].lower()


def _select(document: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """The fields ``paths`` (dotted) of a document, as the engine's source filter gives
    them."""
    selected: dict[str, Any] = {}
    for path in paths:
        node: Any = document
        parts = path.split(".")
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            continue
        target = selected
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = node
    return selected


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
def _translated(*, refusals_are_invalid: bool = False) -> Iterator[None]:
    try:
        yield
    except (OSConnectionError, ConnectionTimeout) as error:
        raise UpstreamUnavailable(SERVICE, "not reachable") from error
    except TransportError as error:
        if refusals_are_invalid and error.status_code == 400:
            raise Invalid(f"the search engine refused this search: {_reason(error)}") from error
        raise UpstreamUnavailable(
            SERVICE, f"answered {error.status_code}: {error.error}"
        ) from error


def _reason(error: TransportError) -> str:
    """The engine's own words for a refusal, short, and without its index names."""
    info = error.info if isinstance(error.info, dict) else {}
    causes = info.get("error", {}).get("root_cause") or [{}]
    cause = causes[0] if isinstance(causes[0], dict) else {}
    reason = str(cause.get("reason") or cause.get("type") or error.error)
    return reason[:200]
