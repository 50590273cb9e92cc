"""How much of what GitLab users write an item is built from. Content past a bound is left
out of the item, with a warning in it (``labstac:warnings``): it never stops indexing, and
never reaches a parser unbounded. The values are settings (docs/security.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.settings import Settings


@dataclass(frozen=True)
class ContentLimits:
    front_matter_max_bytes: int = 64 * 1024
    front_matter_max_depth: int = 16
    asset_rules_max: int = 100
    glob_max_chars: int = 256
    item_max_bytes: int = 512 * 1024
    geometry_max_positions: int = 50_000

    @classmethod
    def from_settings(cls, settings: Settings) -> ContentLimits:
        return cls(
            front_matter_max_bytes=settings.front_matter_max_bytes,
            front_matter_max_depth=settings.front_matter_max_depth,
            asset_rules_max=settings.asset_rules_max,
            glob_max_chars=settings.glob_max_chars,
            item_max_bytes=settings.item_max_bytes,
            geometry_max_positions=settings.geometry_max_positions,
        )
