"""The pieces a worker or an admin command needs to index, built once from the settings."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TextIO

from redis import Redis

from indexer.gitlab.facts import GroupInfo
from indexer.gitlab.reader import GitLabReader, connect
from indexer.index.engine import IndexEngine
from indexer.index.layout import IndexLayout, ensure_index
from indexer.index.project_sync import ProjectSync
from indexer.index.reconcile import Plan, plan_access, plan_full
from indexer.index.reindex import Rebuild
from indexer.redis_client import create_redis
from indexer.settings import Settings
from indexer.stac.categories import Catalog, Category, load_catalog
from indexer.stac.items import ItemBuilder
from indexer.stac.limits import ContentLimits
from indexer.stac.mlflow_links import MlflowSite


@dataclass
class IndexRuntime:
    settings: Settings
    retry_transient_errors: bool = True
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.categories_file, str(self.settings.gitlab_url))

    @property
    def categories(self) -> Sequence[Category]:
        return self.catalog.categories

    @cached_property
    def builder(self) -> ItemBuilder:
        limits = ContentLimits.from_settings(self.settings)
        url = self.settings.mlflow_url
        mlflow = MlflowSite(str(url), self.settings.mlflow_type) if url else None
        return ItemBuilder(self.catalog, str(self.settings.gitlab_url), limits, mlflow)

    @cached_property
    def engine(self) -> IndexEngine:
        return IndexEngine.from_settings(self.settings)

    @cached_property
    def redis(self) -> Redis:
        return create_redis(self.settings)

    @cached_property
    def layout(self) -> IndexLayout:
        settings = self.settings
        return IndexLayout(settings.index_prefix, settings.index_shards, settings.index_replicas)

    def reader(
        self, groups: dict[int, GroupInfo] | None = None, deadline: float | None = None
    ) -> GitLabReader:
        """A fresh reader: its group cache lives as long as the caller keeps it (one task,
        one run), so group facts are never older than the work at hand. Its GitLab client
        (and connections) is this thread's, kept from task to task."""
        client = getattr(self._local, "gitlab", None)
        if client is None:
            client = connect(self.settings, retry_transient_errors=self.retry_transient_errors)
            self._local.gitlab = client
        return GitLabReader(client, groups, self.settings.readme_max_bytes, deadline)

    def project_sync(self, deadline: float | None = None) -> ProjectSync:
        return ProjectSync(
            self.reader(deadline=deadline), self.engine, self.redis, self.layout,
            self.categories, self.settings.min_access_level, self.builder,
        )  # fmt: skip

    def reconcile_plan(self, access_only: bool = False) -> Plan:
        """What differs between GitLab and the index: everything, or only access fields."""
        ensure_index(self.engine, self.layout)
        reader = self.reader()
        if access_only:
            return plan_access(reader, self.engine, self.layout, self.categories,
                               self.settings.min_access_level)  # fmt: skip
        return plan_full(reader, self.engine, self.layout, self.categories)

    def rebuild(self, concurrency: int = 8, stream: TextIO | None = None) -> Rebuild:
        return Rebuild(
            self.engine, self.redis, self.layout, self.categories,
            self.settings.min_access_level, self.reader, self.builder,
            concurrency=concurrency, stream=stream,
        )  # fmt: skip

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.close()
        if "redis" in self.__dict__:
            self.redis.close()
