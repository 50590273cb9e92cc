"""Browser sessions after a GitLab sign-in: an opaque id in an HttpOnly cookie, the GitLab
OAuth tokens kept server-side in Redis under the id's SHA-256 (the id itself is stored
nowhere), refreshed when GitLab's two-hour access token is about to expire, and gone with
sign-out, with the refresh failing, or after ``LABSTAC_SESSION_MAX_SECONDS``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    # Authlib 1.9 asks for httpx2 and, with httpx, says so on every start (to stderr, where
    # a command's one-line errors go); it works with httpx as before.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from redis.asyncio import Redis
from redis.exceptions import RedisError

from indexer.redis_client import translate
from indexer.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "labstac_session"
REFRESH_MARGIN_SECONDS = 120
REFRESH_LOCK_MS = 10_000


@dataclass
class Session:
    access_token: str
    refresh_token: str | None
    expires_at: float  # the access token's
    user_id: int
    username: str
    started: float


def _key(session_id: str) -> str:
    return f"labstac:session:{hashlib.sha256(session_id.encode()).hexdigest()}"


def oauth_client(settings: Settings, redirect_uri: str | None = None) -> AsyncOAuth2Client:
    secret = settings.oauth_client_secret
    return AsyncOAuth2Client(
        client_id=settings.oauth_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scope=settings.oauth_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        timeout=settings.gitlab_timeout_seconds,
    )


class Sessions:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._token_endpoint = f"{str(settings.gitlab_url).rstrip('/')}/oauth/token"

    async def create(self, token: dict[str, Any], user_id: int, username: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(
            access_token=str(token["access_token"]),
            refresh_token=token.get("refresh_token"),
            expires_at=now + float(token.get("expires_in") or 7200),
            user_id=user_id,
            username=username,
            started=now,
        )
        await self._store(session_id, session)
        return session_id

    async def get(self, session_id: str | None) -> Session | None:
        """The live session of this id, its access token refreshed if it was about to
        expire; None when there is none (expired, signed out, refused by GitLab)."""
        if not session_id or len(session_id) > 100:
            return None
        session = await self._read(session_id)
        if session is None:
            return None
        if session.expires_at - time.time() > REFRESH_MARGIN_SECONDS:
            return session
        return await self._refreshed(session_id, session)

    async def _refreshed(self, session_id: str, session: Session) -> Session | None:
        """The session with a fresh access token. One request refreshes (GitLab rotates
        the pair: a second refresh with the same token would be refused); the others wait
        for its result. Only GitLab's refusal ends the session; GitLab away keeps it while
        its token lasts."""
        if not session.refresh_token:
            await self.delete(session_id)
            return None
        lock = f"{_key(session_id)}:refreshing"
        try:
            mine = await self._redis.set(lock, "1", nx=True, px=REFRESH_LOCK_MS)
        except RedisError as error:
            raise translate(error) from error
        if not mine:
            return await self._refreshed_by_another(session_id, session)
        client = oauth_client(self._settings)
        try:
            token = await client.refresh_token(
                self._token_endpoint, refresh_token=session.refresh_token
            )
        except OAuthError as error:  # refused: revoked, or already used
            log.info("a session could not be refreshed", extra={"error": error.error})
            await self.delete(session_id)
            return None
        except Exception as error:  # GitLab away: the session stays while its token lasts
            log.warning("GitLab did not answer a session's refresh",
                        extra={"error": type(error).__name__})  # fmt: skip
            return session if session.expires_at > time.time() else None
        finally:
            await client.aclose()
            try:
                await self._redis.delete(lock)
            except RedisError as error:
                raise translate(error) from error
        session.access_token = str(token["access_token"])
        session.refresh_token = token.get("refresh_token") or session.refresh_token
        session.expires_at = time.time() + float(token.get("expires_in") or 7200)
        await self._store(session_id, session)
        return session

    async def _refreshed_by_another(self, session_id: str, session: Session) -> Session | None:
        for _ in range(REFRESH_LOCK_MS // 100):
            await asyncio.sleep(0.1)
            current = await self._read(session_id)
            if current is None:
                return None  # the refresh was refused: signed out
            if current.access_token != session.access_token:
                return current
        return session if session.expires_at > time.time() else None

    async def _read(self, session_id: str) -> Session | None:
        try:
            raw = await self._redis.get(_key(session_id))
        except RedisError as error:
            raise translate(error) from error
        return Session(**json.loads(raw)) if raw else None

    async def delete(self, session_id: str) -> Session | None:
        try:
            raw = await self._redis.getdel(_key(session_id))
        except RedisError as error:
            raise translate(error) from error
        return Session(**json.loads(raw)) if raw else None

    async def _store(self, session_id: str, session: Session) -> None:
        lifetime = self._settings.session_max_seconds - (time.time() - session.started)
        if lifetime <= 0:
            return
        # Without a refresh token, the session ends with its access token.
        if session.refresh_token is None:
            lifetime = min(lifetime, session.expires_at - time.time())
        try:
            await self._redis.set(_key(session_id), json.dumps(asdict(session)),
                                  ex=max(1, int(lifetime)))  # fmt: skip
        except RedisError as error:
            raise translate(error) from error
