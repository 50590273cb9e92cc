"""Where documents live. Versioned indices ``<prefix>-items-v<N>`` sit behind aliases:

<prefix>-items            read alias: every search goes here
<prefix>-items-write      write alias: the live index, for event writes
<prefix>-items-building   the index a running reindex fills (absent otherwise); event
                          writes go here too, so nothing is lost at the swap
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import mappings
from indexer.index.engine import IndexEngine

log = logging.getLogger(__name__)

_VERSION = re.compile(r"-v(\d+)$")


@dataclass(frozen=True)
class IndexLayout:
    prefix: str
    shards: int = 1
    replicas: int = 0

    @property
    def read_alias(self) -> str:
        return f"{self.prefix}-items"

    @property
    def write_alias(self) -> str:
        return f"{self.prefix}-items-write"

    @property
    def building_alias(self) -> str:
        return f"{self.prefix}-items-building"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-items-v*"

    def index_name(self, version: int) -> str:
        return f"{self.prefix}-items-v{version}"

    @staticmethod
    def version_of(index: str) -> int:
        found = _VERSION.search(index)
        return int(found.group(1)) if found else 0


def ensure_template(engine: IndexEngine, layout: IndexLayout) -> None:
    """The template every index version is created from, with the layout's shards and
    replicas (a reindex builds the next version with them)."""
    body = mappings.load("items")
    body["settings"]["index"].update(
        number_of_shards=layout.shards, number_of_replicas=layout.replicas
    )
    engine.put_template(f"{layout.prefix}-items", [layout.pattern], body)


def next_index_name(engine: IndexEngine, layout: IndexLayout) -> str:
    """The versioned index after the newest one that exists."""
    newest = max((layout.version_of(i) for i in engine.indices(layout.pattern)), default=0)
    return layout.index_name(newest + 1)


@dataclass(frozen=True)
class LiveIndex:
    name: str
    # False when a field changed type since the live index was built: only a reindex
    # brings that (new fields go in place).
    mapping_current: bool


def ensure_index(engine: IndexEngine, layout: IndexLayout) -> str:
    """Make sure a live index exists behind the read and write aliases; returns its name."""
    return ensure_live_index(engine, layout).name


def ensure_live_index(engine: IndexEngine, layout: IndexLayout) -> LiveIndex:
    """``ensure_index``, saying also whether the live index's mapping is this version's."""
    ensure_template(engine, layout)
    live = engine.alias_targets(layout.read_alias)[layout.read_alias]
    if live:
        # A field this version of labstac added (to the strict _acl object, say) must be in
        # the live index before any write carries it; new fields go in without a reindex.
        current = engine.add_mappings(live[0], mappings.load("items")["mappings"])
        if not current:
            log.warning(
                "the live index's mapping differs from this version's: run labstac reindex",
                extra={"index": live[0]},
            )
        # Replicas may change on a live index (shards only with a reindex).
        engine.set_replicas(live[0], layout.replicas)
        return LiveIndex(live[0], current)
    name = next_index_name(engine, layout)
    engine.create_index(name)
    engine.update_aliases(
        [
            {"add": {"index": name, "alias": layout.read_alias}},
            {"add": {"index": name, "alias": layout.write_alias}},
        ]
    )
    return LiveIndex(name, mapping_current=True)


def write_targets(engine: IndexEngine, layout: IndexLayout, rebuilding: bool) -> list[str]:
    """The indices an event's write must reach: the live one and, while a reindex runs
    (``rebuilding``: its lease is held), the one being built. A building alias no reindex
    holds is a leftover of one that died: writes do not feed it."""
    aliases = (layout.write_alias, layout.building_alias) if rebuilding else (layout.write_alias,)
    targets = engine.alias_targets(*aliases)
    return sorted({index for indices in targets.values() for index in indices})


def drop_abandoned_builds(engine: IndexEngine, layout: IndexLayout) -> list[str]:
    """Delete what a reindex that died left behind: the index behind the building alias
    (call only while holding the reindex lease). Returns the indices deleted."""
    live = set(engine.alias_targets(layout.read_alias)[layout.read_alias])
    abandoned = [
        index
        for index in engine.alias_targets(layout.building_alias)[layout.building_alias]
        if index not in live
    ]
    for index in abandoned:
        engine.update_aliases([{"remove": {"index": index, "alias": layout.building_alias}}])
        engine.delete_index(index)
    return abandoned
