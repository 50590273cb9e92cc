"""labstac's one settings class.

Every value comes from a ``LABSTAC_``-prefixed environment variable, or from a file named
like the variable (e.g. ``LABSTAC_GITLAB_TOKEN``) in the folder ``LABSTAC_SECRETS_DIR``
names, which is how container secrets arrive.
The settings are built once, in an entry point, and passed down; nothing else reads the
environment. Secrets are ``SecretStr``: they print as ``**********``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexer.errors import SettingsInvalid

ENV_PREFIX = "LABSTAC_"


class Settings(BaseSettings):
    """Configuration of every labstac process (API, worker, beat, admin commands)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
    )

    # GitLab, the source of truth.
    gitlab_url: AnyHttpUrl
    gitlab_token: SecretStr | None = Field(
        default=None,
        description="Admin (or auditor) token the workers read projects with.",
    )
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Accepted X-Gitlab-Token values, comma-separated (several allow rotation).",
    )

    # Access model. Changing the minimum level changes what every document's access fields
    # hold: it takes a full `labstac reindex` to apply.
    min_access_level: Literal[10, 15, 20, 30, 40, 50] = Field(
        default=20,
        description="Lowest role that reads a private project's repository (GitLab: Reporter).",
    )
    anonymous_access: bool = True
    token_cache_seconds: int = Field(default=60, ge=0, le=3600)
    membership_cache_seconds: int = Field(default=300, ge=0, le=86_400)
    gitlab_timeout_seconds: float = Field(default=10.0, gt=0)

    # Catalog content: categories, asset rules and extensions (SharingHub's YAML format);
    # labstac's defaults when unset.
    categories_file: Path | None = None

    # Hook receiver.
    hook_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    hook_dedupe_seconds: int = Field(default=3600, ge=0)

    # Limits on what clients send (docs/security.md): each is checked before the input is
    # parsed or reaches the engine, and a request past one is a 400 (413 for sizes).
    request_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    request_max_depth: int = Field(default=32, ge=4, le=256)
    search_max_values: int = Field(default=1000, ge=1, le=10_000)
    search_max_terms: int = Field(default=32, ge=1, le=1000)
    search_max_fields: int = Field(default=100, ge=1, le=10_000)
    text_max_chars: int = Field(default=2048, ge=64)
    filter_max_chars: int = Field(default=20_000, ge=256, le=40_000)
    filter_max_depth: int = Field(default=20, ge=2, le=100)
    filter_max_nodes: int = Field(default=300, ge=10, le=2000)
    like_max_wildcards: int = Field(default=16, ge=1, le=256)
    geometry_max_positions: int = Field(default=50_000, ge=100)
    unknown_tokens_per_minute: int = Field(
        default=30, ge=1, description="New tokens one client address may make labstac look up."
    )

    # Limits on what GitLab users write (READMEs, categories' rules): content past one is
    # left out of the item, with a warning in it, and never stops indexing.
    readme_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    front_matter_max_bytes: int = Field(default=64 * 1024, ge=1024)
    front_matter_max_depth: int = Field(default=16, ge=2, le=100)
    asset_rules_max: int = Field(default=100, ge=1)
    glob_max_chars: int = Field(default=256, ge=16)
    item_max_bytes: int = Field(default=512 * 1024, ge=16 * 1024)

    # Search engine: one node's address, or several nodes' (comma-separated, one scheme),
    # which the client spreads requests over and retries on.
    opensearch_url: Annotated[list[AnyHttpUrl], NoDecode] = Field(
        default_factory=lambda: [AnyHttpUrl("http://127.0.0.1:9200")], min_length=1
    )
    # Ask the cluster for its nodes and talk to them directly: only where every node's
    # published address is reachable (not behind a load balancer or a Kubernetes Service).
    opensearch_sniff: bool = False
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: Path | None = None
    opensearch_timeout_seconds: float = Field(default=10.0, gt=0)
    # Connections each process keeps to the engine: at least the reindex's writer threads.
    opensearch_pool_size: int = Field(default=16, ge=1, le=256)
    index_prefix: str = Field(default="labstac", pattern=r"^[a-z0-9][a-z0-9_-]*$")
    # Shards of each index version (set when a version is built: a change takes a
    # reindex), and replicas of each shard (applied to the live index at start too).
    index_shards: int = Field(default=1, ge=1, le=1024)
    index_replicas: int = Field(default=0, ge=0, le=16)

    # Broker, caches and the event counter.
    redis_url: RedisDsn = RedisDsn("redis://127.0.0.1:6379/0")
    task_queue: str = Field(default="labstac", pattern=r"^[A-Za-z0-9_.-]+$")
    # Longer than the longest task's hard time limit (the reconcile's, 660 s).
    task_visibility_seconds: int = Field(default=900, ge=1)
    task_max_retries: int = Field(default=8, ge=0, le=100)
    # A task whose process dies under it (a crash in native code, the OOM killer) is handed
    # to a worker again; after this many deliveries it becomes a dead letter instead.
    task_max_deliveries: int = Field(default=3, ge=1, le=100)
    # How long a worker rides out Redis being away (reconnecting, tasks kept) before it
    # exits non-zero for its supervisor to restart it.
    broker_retry_seconds: int = Field(default=300, ge=5)

    # HTTP API.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    stac_root: str = Field(default="/api/v1/stac", pattern=r"^/[A-Za-z0-9/_.-]*[^/]$")
    # Where SharingHub's routes for MLflow SharingHub live: {this}/api/check/... and
    # {this}/api/auth/info. Its SHARINGHUB_URL is labstac's address plus this ("" = root).
    sharinghub_root: str = Field(default="", pattern=r"^(/[A-Za-z0-9/_.-]*[^/])?$")
    # Origins allowed to call the API from a browser (STAC Browser on another site): "*" or
    # a comma-separated list.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    # The API's address as clients reach it; links are built from it when set. Otherwise
    # from the request's Host, and X-Forwarded-Proto/-Host/-For only from these proxies
    # (addresses or networks, comma-separated; "*" trusts any peer).
    public_url: AnyHttpUrl | None = None
    forwarded_allow_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"]
    )
    # Bearer token /metrics asks for; unset, /metrics is open and leaves out what would
    # tell how much the index holds.
    metrics_token: SecretStr | None = None

    # Sign-in with GitLab (an OAuth application of the GitLab, with the redirect URI
    # {labstac}/auth/callback): unset, the web catalog has no sign-in.
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_scopes: str = "read_api"
    # The longest a browser session lives, whatever GitLab's refresh tokens allow.
    session_max_seconds: int = Field(default=12 * 3600, ge=300)
    # Where item asset hrefs point: labstac's download proxy, or GitLab's own URLs.
    asset_hrefs: Literal["proxy", "gitlab"] = "proxy"
    # The built STAC Browser (scripts/web.sh) served at /; unset: the one of this checkout.
    web_dir: Path | None = None

    # MLflow's model registry (docs/mlflow.md): none, no model links in items. Its type says
    # how items link a project's tracking URI: MLflow SharingHub's per-project address
    # ({url}/{project path}/tracking/, SharingHub's default) or one plain MLflow ({url}/).
    mlflow_url: AnyHttpUrl | None = None
    mlflow_token: SecretStr | None = None
    mlflow_type: Literal["mlflow-sharinghub", "mlflow"] = "mlflow-sharinghub"
    mlflow_pass_seconds: float = Field(default=300.0, gt=0)

    # Process behaviour.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    state_dir: Path = Field(default_factory=lambda: Path.home() / ".local/state/labstac")
    worker_heartbeat_seconds: float = Field(default=30.0, gt=0)
    access_pass_seconds: float = Field(default=60.0, gt=0)
    reconcile_seconds: float = Field(default=900.0, gt=0)

    @field_validator(
        "gitlab_token",
        "opensearch_username",
        "opensearch_password",
        "opensearch_ca_certs",
        "categories_file",
        "public_url",
        "metrics_token",
        "mlflow_url",
        "mlflow_token",
        "oauth_client_id",
        "oauth_client_secret",
        "web_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose and env files write an unset optional value as an empty string.
        return None if value == "" else value

    @field_validator("min_access_level", mode="before")
    @classmethod
    def _level_from_text(cls, value: object) -> object:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @field_validator("opensearch_url", mode="before")
    @classmethod
    def _several_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return [value] if not isinstance(value, list) else value

    @field_validator("opensearch_url")
    @classmethod
    def _one_scheme(cls, value: list[AnyHttpUrl]) -> list[AnyHttpUrl]:
        if len({url.scheme for url in value}) > 1:
            raise ValueError("all the engine's addresses must use the same scheme")
        return value

    @field_validator("cors_origins", "forwarded_allow_ips", "webhook_secrets", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # Lists arrive from the environment as comma-separated text.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"'{entry}' is not an IP address or network") from None
        return value

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_long_enough(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            if len(secret.get_secret_value()) < 16:
                raise ValueError("each webhook secret must be at least 16 characters long")
        return value

    @property
    def redis_url_str(self) -> str:
        return str(self.redis_url)


def load_settings() -> Settings:
    """Build the settings from the environment, or raise one ``SettingsInvalid`` that names
    the variable at fault (never its value, which may be a secret)."""
    secrets_dir = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR")
    try:
        if secrets_dir:
            if not Path(secrets_dir).is_dir():
                raise SettingsInvalid(f"{ENV_PREFIX}SECRETS_DIR: {secrets_dir} is not a directory")
            return Settings(_secrets_dir=secrets_dir)
        return Settings()
    except ValidationError as error:
        raise SettingsInvalid(_describe(error)) from None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    variable = f"{ENV_PREFIX}{field.upper()}"
    if first["type"] == "missing":
        return f"{variable} is required but not set"
    return f"{variable} is invalid: {first['msg']}"
