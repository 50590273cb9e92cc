"""The pieces a worker or an admin command needs to index, built once from the settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis

from indexer.access_fields import GroupInfo
from indexer.categories import DEFAULT_CATEGORIES, Category
from indexer.engine import IndexEngine
from indexer.gitlab_reader import GitLabReader, connect
from indexer.index_layout import IndexLayout
from indexer.project_sync import ProjectSync
from indexer.redis_client import create_redis
from indexer.settings import Settings


@dataclass
class IndexRuntime:
    settings: Settings
    categories: Sequence[Category] = field(default=DEFAULT_CATEGORIES)
    retry_transient_errors: bool = True

    @cached_property
    def engine(self) -> IndexEngine:
        return IndexEngine.from_settings(self.settings)

    @cached_property
    def redis(self) -> Redis:
        return create_redis(self.settings)

    @cached_property
    def layout(self) -> IndexLayout:
        return IndexLayout(self.settings.index_prefix)

    def reader(self, groups: dict[int, GroupInfo] | None = None) -> GitLabReader:
        """A fresh reader: its group cache lives as long as the caller keeps it (one task,
        one run), so group facts are never older than the work at hand."""
        client = connect(self.settings, retry_transient_errors=self.retry_transient_errors)
        return GitLabReader(client, groups)

    def project_sync(self) -> ProjectSync:
        return ProjectSync(
            self.reader(), self.engine, self.redis, self.layout, self.categories,
            self.settings.min_access_level,
        )  # fmt: skip

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.close()
        if "redis" in self.__dict__:
            self.redis.close()
