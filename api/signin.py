"""Sign-in with GitLab (OAuth 2 authorization code with PKCE, GitLab as the identity
provider, as for SharingHub), into a server-side session (api.sessions):

    GET /auth/login?next=/path     to GitLab's authorize page (PKCE, a one-time state)
    GET /auth/callback             GitLab's answer: the code for tokens, a session cookie
    GET /auth/logout               the session and GitLab's token revoked, the cookie gone

The cookie is opaque, HttpOnly, SameSite=Lax, Secure when labstac is reached over https.
``next`` may only be a path of this site (no open redirect).
"""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from api.sessions import COOKIE, Sessions, oauth_client
from api.stac_links import site_base
from indexer.errors import Invalid, NotFound, UpstreamUnavailable
from indexer.redis_client import translate

log = logging.getLogger(__name__)

STATE_SECONDS = 600
SIGNIN_COOKIE = "labstac_signin"


def _local_path(value: str | None) -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/"


def _configured(request: Request) -> None:
    if not request.app.state.settings.oauth_client_id:
        raise NotFound("sign-in with GitLab is not set up here (LABSTAC_OAUTH_CLIENT_ID)")


def _callback_url(request: Request) -> str:
    return f"{site_base(request)}/auth/callback"


async def login(request: Request) -> Response:
    _configured(request)
    settings = request.app.state.settings
    state, verifier = secrets.token_urlsafe(24), generate_token(64)
    pending = {"verifier": verifier, "next": _local_path(request.query_params.get("next"))}
    try:
        await request.app.state.redis.set(f"labstac:oauth-state:{state}", json.dumps(pending),
                                          ex=STATE_SECONDS)  # fmt: skip
    except RedisError as error:
        raise translate(error) from error
    client = oauth_client(settings, _callback_url(request))
    try:
        url, _ = client.create_authorization_url(
            f"{str(settings.gitlab_url).rstrip('/')}/oauth/authorize",
            state=state, code_verifier=verifier,
        )  # fmt: skip
    finally:
        await client.aclose()
    response = RedirectResponse(url, status_code=302)
    # The state belongs to this browser: a callback link someone else started (to sign the
    # victim in as the attacker) finds no matching cookie.
    response.set_cookie(
        SIGNIN_COOKIE, state, max_age=STATE_SECONDS, httponly=True, samesite="lax",
        secure=site_base(request).startswith("https://"), path="/auth/",
    )  # fmt: skip
    return response


async def callback(request: Request) -> Response:
    _configured(request)
    settings = request.app.state.settings
    state = request.query_params.get("state", "")
    if not state or not secrets.compare_digest(state, request.cookies.get(SIGNIN_COOKIE, "")):
        raise Invalid("this sign-in was not started in this browser: sign in again")
    try:
        raw = await request.app.state.redis.getdel(f"labstac:oauth-state:{state[:100]}")
    except RedisError as error:
        raise translate(error) from error
    if raw is None:
        raise Invalid("this sign-in expired or was already used: sign in again")
    pending = json.loads(raw)
    if request.query_params.get("error"):  # the user said no: back, signed out
        refused = RedirectResponse(pending["next"], status_code=302)
        refused.delete_cookie(SIGNIN_COOKIE, path="/auth/")
        return refused
    code = request.query_params.get("code")
    if not code:
        raise Invalid("GitLab sent no authorization code")
    client = oauth_client(settings, _callback_url(request))
    try:
        token = await client.fetch_token(
            f"{str(settings.gitlab_url).rstrip('/')}/oauth/token",
            code=code, code_verifier=pending["verifier"],
        )  # fmt: skip
    except Exception as error:
        log.warning("GitLab refused a sign-in's code", extra={"error": type(error).__name__})
        raise Invalid("GitLab refused this sign-in: sign in again") from None
    finally:
        await client.aclose()
    user = await request.app.state.gitlab.get("/user", str(token["access_token"]))
    sessions: Sessions = request.app.state.sessions
    session_id = await sessions.create(token, int(user["id"]), str(user["username"]))
    log.info("signed in", extra={"username": user["username"]})
    response = RedirectResponse(pending["next"], status_code=302)
    response.delete_cookie(SIGNIN_COOKIE, path="/auth/")
    response.set_cookie(
        COOKIE, session_id, max_age=settings.session_max_seconds, httponly=True,
        samesite="lax", secure=site_base(request).startswith("https://"), path="/",
    )  # fmt: skip
    return response


async def logout(request: Request) -> Response:
    settings = request.app.state.settings
    sessions: Sessions = request.app.state.sessions
    session = None
    if request.cookies.get(COOKIE):
        try:
            session = await sessions.delete(request.cookies[COOKIE])
        except UpstreamUnavailable:  # Redis away: the cookie still goes
            log.warning("a session could not be deleted: Redis is not reachable")
    if session is not None and settings.oauth_client_id:
        client = oauth_client(settings)
        try:  # GitLab forgets the token too; a failure here still signs out
            await client.revoke_token(
                f"{str(settings.gitlab_url).rstrip('/')}/oauth/revoke",
                token=session.access_token,
            )
        except Exception as error:
            log.info("GitLab did not revoke a token", extra={"error": type(error).__name__})
        finally:
            await client.aclose()
    response = RedirectResponse(_local_path(request.query_params.get("next")), status_code=302)
    response.delete_cookie(COOKIE, path="/")
    return response
