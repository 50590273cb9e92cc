"""How much one search may ask for. Every bound is checked before the input is parsed
further or reaches the engine, and a search past one is an ``Invalid`` (400) that names the
parameter and the bound. The values are settings (docs/security.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.errors import Invalid
from indexer.settings import Settings


@dataclass(frozen=True)
class SearchLimits:
    max_values: int = 1000  # ids, collections, IN lists
    max_terms: int = 32  # free-text terms
    max_fields: int = 100  # names in the fields extension, includes and excludes together
    text_max_chars: int = 2048  # any one string: an id, a term, a field name, a pattern
    filter_max_chars: int = 20_000  # a CQL2 filter, as text or JSON
    filter_max_depth: int = 20  # nesting of a filter's parentheses and logical operators
    filter_max_nodes: int = 300  # operators and values in one filter
    like_max_wildcards: int = 16  # % and _ in one LIKE pattern
    geometry_max_positions: int = 50_000
    json_max_depth: int = 32  # a JSON body, or a JSON-valued parameter

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchLimits:
        return cls(
            max_values=settings.search_max_values,
            max_terms=settings.search_max_terms,
            max_fields=settings.search_max_fields,
            text_max_chars=settings.text_max_chars,
            filter_max_chars=settings.filter_max_chars,
            filter_max_depth=settings.filter_max_depth,
            filter_max_nodes=settings.filter_max_nodes,
            like_max_wildcards=settings.like_max_wildcards,
            geometry_max_positions=settings.geometry_max_positions,
            json_max_depth=settings.request_max_depth,
        )

    @property
    def body_max_depth(self) -> int:
        """JSON nesting a search body may have: a filter within its own bound fits."""
        return max(self.json_max_depth, 2 * self.filter_max_depth + 8)

    def check_count(self, name: str, count: int, bound: int | None = None) -> None:
        bound = self.max_values if bound is None else bound
        if count > bound:
            raise Invalid(f"{name} has {count} values; at most {bound} are allowed")

    def check_text(self, name: str, text: str) -> None:
        if len(text) > self.text_max_chars:
            raise Invalid(f"{name} is longer than {self.text_max_chars} characters")


DEFAULT_LIMITS = SearchLimits()
