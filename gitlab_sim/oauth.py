"""GitLab as an OAuth 2 provider (doc/api/oauth2.md; Doorkeeper's behaviour where the docs
are silent): the authorization code flow with PKCE, refresh with rotation, revocation and
token introspection, and a sign-in page standing for GitLab's.

    GET  /oauth/authorize       sign-in page (not signed in), consent page, or a redirect
    POST /users/sign_in         the sign-in form
    POST /oauth/authorize       the consent form: Authorize or Deny
    POST /oauth/token           grant_type authorization_code | refresh_token
    POST /oauth/revoke          200 {} (also for an unknown token)
    GET  /oauth/token/info      the token's owner, scopes and remaining lifetime

Access tokens are ``Token``s of the world (with ``oauth_application`` and an expiry in
seconds): the REST API takes them as ``Authorization: Bearer`` like any token.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from gitlab_sim.world import OAuthApplication, Token, World

ACCESS_TOKEN_SECONDS = 7200
CODE_SECONDS = 600
SESSION_COOKIE = "_gitlab_session"
ERRORS = {
    "invalid_grant": (400, "The provided authorization grant is invalid, expired, revoked, does "
                      "not match the redirection URI used in the authorization request, or was "
                      "issued to another client."),
    "invalid_client": (401, "Client authentication failed due to unknown client, no client "
                       "authentication included, or unsupported authentication method."),
    "invalid_request": (400, "The request is missing a required parameter, includes an "
                        "unsupported parameter value, or is otherwise malformed."),
    "unsupported_grant_type": (400, "The authorization grant type is not supported by the "
                               "authorization server."),
    "invalid_scope": (400, "The requested scope is invalid, unknown, or malformed."),
}  # fmt: skip
DENIED = "The resource owner or authorization server denied the request."


@dataclass
class Grant:
    application: str
    user_id: int
    redirect_uri: str
    scopes: list[str]
    challenge: str | None
    method: str
    expires: float


@dataclass
class OAuthState:
    """What GitLab keeps beside its database for OAuth: codes, refresh tokens, sessions."""

    codes: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> access token
    sessions: dict[str, int] = field(default_factory=dict)  # browser session -> user id


def _error(name: str, status: int | None = None) -> JSONResponse:
    code, description = ERRORS[name]
    return JSONResponse(
        {"error": name, "error_description": description},
        status_code=status or code,
        headers={"Cache-Control": "no-store"},
    )


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} · "
        f"GitLab</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _application(world: World, uid: str | None) -> OAuthApplication | None:
    return next((a for a in world.oauth_applications if a.uid == uid), None)


async def handle(world: World, state: OAuthState, request: Request, path: str) -> Response | None:
    """The response for an OAuth path, or None when ``path`` is not one."""
    if path == "/oauth/authorize" and request.method == "GET":
        return _authorize_page(world, state, request)
    if path == "/users/sign_in" and request.method == "POST":
        return await _sign_in(world, state, request)
    if path == "/oauth/authorize" and request.method == "POST":
        return await _decide(world, state, request)
    if path == "/oauth/token" and request.method == "POST":
        return await _token(world, state, request)
    if path == "/oauth/revoke" and request.method == "POST":
        return await _revoke(world, state, request)
    if path == "/oauth/token/info" and request.method == "GET":
        return _token_info(world, request)
    return None


def _checked_request(world: World, params: dict[str, str]) -> tuple[OAuthApplication, str] | str:
    """The application and redirect URI of an authorization request, or an error page's
    text (GitLab shows a page, never redirects, for an unknown client or redirect URI)."""
    application = _application(world, params.get("client_id"))
    if application is None:
        return "Client authentication failed due to unknown client."
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in application.redirect_uris:
        return "The redirect URI included is not valid."
    return application, redirect_uri


def _authorize_page(world: World, state: OAuthState, request: Request) -> Response:
    params = dict(request.query_params)
    checked = _checked_request(world, params)
    if isinstance(checked, str):
        return _page("An error has occurred", f"<p>{html.escape(checked)}</p>", 400)
    application, redirect_uri = checked
    user_id = state.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if user_id is None:
        return _page("Sign in", (
            "<form method='post' action='/users/sign_in'>"
            f"<input type='hidden' name='return_to' value='{html.escape(str(request.url))}'>"
            "<label>Username <input name='username' id='user_login'></label>"
            "<label>Password <input name='password' type='password' id='user_password'></label>"
            "<button type='submit' id='sign_in'>Sign in</button></form>"
        ))  # fmt: skip
    if params.get("response_type") != "code":
        return _redirect_error(redirect_uri, "unsupported_response_type", params.get("state"))
    scopes = (params.get("scope") or "").split()
    if not scopes or not set(scopes) <= set(application.scopes):
        return _redirect_error(redirect_uri, "invalid_scope", params.get("state"))
    if application.trusted:
        return _issue_code(state, application, user_id, redirect_uri, params)
    hidden = "".join(f"<input type='hidden' name='{html.escape(k)}' value='{html.escape(v)}'>"
                     for k, v in params.items())  # fmt: skip
    return _page(f"Authorize {application.name} to use your account?", (
        f"<p>{html.escape(application.name)} asks for: {html.escape(' '.join(scopes))}</p>"
        f"<form method='post' action='/oauth/authorize'>{hidden}"
        "<button type='submit' name='decision' value='authorize' id='authorize'>Authorize"
        "</button><button type='submit' name='decision' value='deny' id='deny'>Deny</button>"
        "</form>"
    ))  # fmt: skip


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def _sign_in(world: World, state: OAuthState, request: Request) -> Response:
    form = await _form(request)
    user = world.user_by_username.get(form.get("username", ""))
    return_to = form.get("return_to", "/")
    ok = (user is not None and user.password is not None and user.state == "active"
          and secrets.compare_digest(user.password, form.get("password", "")))  # fmt: skip
    if not ok or user is None:
        return _page("Sign in", "<p id='flash'>Invalid login or password.</p>", 401)
    session = secrets.token_urlsafe(24)
    state.sessions[session] = user.id
    # Only back to this GitLab's own authorize page.
    target = return_to if return_to.startswith(world.instance_url + "/oauth/authorize") else "/"
    response = RedirectResponse(target, status_code=302)
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="lax")
    return response


async def _decide(world: World, state: OAuthState, request: Request) -> Response:
    form = await _form(request)
    checked = _checked_request(world, form)
    user_id = state.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if isinstance(checked, str) or user_id is None:
        return _page("An error has occurred", "<p>The authorization request is invalid.</p>", 400)
    application, redirect_uri = checked
    if form.get("decision") != "authorize":
        return _redirect_error(redirect_uri, "access_denied", form.get("state"), DENIED)
    return _issue_code(state, application, user_id, redirect_uri, form)


def _issue_code(
    state: OAuthState,
    application: OAuthApplication,
    user_id: int,
    redirect_uri: str,
    params: dict[str, str],
) -> Response:
    code = secrets.token_hex(32)
    state.codes[code] = Grant(
        application.uid, user_id, redirect_uri, (params.get("scope") or "").split(),
        params.get("code_challenge"), params.get("code_challenge_method", "plain"),
        time.time() + CODE_SECONDS,
    )  # fmt: skip
    query = {"code": code, **({"state": params["state"]} if params.get("state") else {})}
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


def _redirect_error(
    redirect_uri: str, error: str, state_value: str | None, description: str | None = None
) -> Response:
    query = {"error": error, "error_description": description or ERRORS.get(error, (0, ""))[1]}
    if state_value:
        query["state"] = state_value
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


def _client(world: World, request: Request, form: dict[str, str]) -> OAuthApplication | None:
    """The authenticated client: form fields or HTTP Basic; a confidential application
    needs its secret."""
    uid, secret = form.get("client_id"), form.get("client_secret")
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic "):
        try:
            uid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        except ValueError:
            return None
    application = _application(world, uid)
    if application is None:
        return None
    if secret:
        return application if secrets.compare_digest(secret, application.secret) else None
    return None if application.confidential else application


def _new_token(world: World, state: OAuthState, application: str, user_id: int,
               scopes: list[str]) -> dict[str, object]:  # fmt: skip
    access = Token(
        id=world.next_id("token"), token=secrets.token_hex(32), user_id=user_id,
        name=f"oauth:{application}", scopes=scopes, oauth_application=application,
        expires_epoch=time.time() + ACCESS_TOKEN_SECONDS,
    )  # fmt: skip
    world.tokens.append(access)
    world.changed()
    refresh = secrets.token_hex(32)
    state.refresh[refresh] = access.token
    return {"access_token": access.token, "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS, "refresh_token": refresh,
            "scope": " ".join(scopes), "created_at": int(time.time())}  # fmt: skip


async def _token(world: World, state: OAuthState, request: Request) -> Response:
    form = await _form(request)
    application = _client(world, request, form)
    if application is None:
        return _error("invalid_client")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = state.codes.pop(form.get("code", ""), None)
        if (
            grant is None or grant.application != application.uid or grant.expires < time.time()
            or grant.redirect_uri != form.get("redirect_uri")
            or not _pkce_ok(grant, form.get("code_verifier"))
        ):  # fmt: skip
            return _error("invalid_grant")
        body = _new_token(world, state, application.uid, grant.user_id, grant.scopes)
    elif grant_type == "refresh_token":
        old = state.refresh.pop(form.get("refresh_token", ""), None)
        token = world.token_by_value.get(old or "")
        if token is None or token.oauth_application != application.uid or token.revoked:
            return _error("invalid_grant")
        token.revoked = True  # rotation: the old pair stops working
        body = _new_token(world, state, application.uid, token.user_id, token.scopes)
    else:
        return _error("unsupported_grant_type")
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _pkce_ok(grant: Grant, verifier: str | None) -> bool:
    if grant.challenge is None:
        return True
    if not verifier:
        return False
    if grant.method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    else:
        computed = verifier
    return secrets.compare_digest(computed, grant.challenge)


async def _revoke(world: World, state: OAuthState, request: Request) -> Response:
    form = await _form(request)
    application = _client(world, request, form)
    if application is None:
        return JSONResponse({"error": "unauthorized_client",
                             "error_description": "You are not authorized to revoke this token"},
                            status_code=403)  # fmt: skip
    value = form.get("token", "")
    value = state.refresh.pop(value, value)  # a refresh token revokes its access token
    token = world.token_by_value.get(value)
    if token is not None and token.oauth_application == application.uid:
        token.revoked = True
        world.changed()
    return JSONResponse({})


def _token_info(world: World, request: Request) -> Response:
    header = request.headers.get("authorization", "")
    value = header[7:].strip() if header.lower().startswith("bearer ") else None
    value = value or request.query_params.get("access_token")
    token = world.token_by_value.get(value or "")
    now = time.time()
    if (
        token is None or token.oauth_application is None or token.revoked
        or (token.expires_epoch is not None and token.expires_epoch <= now)
    ):  # fmt: skip
        return JSONResponse(
            {"error": "invalid_token", "error_description": "The access token is invalid",
             "state": "unauthorized"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token"'},
        )  # fmt: skip
    remaining = int(token.expires_epoch - now) if token.expires_epoch else None
    created = int((token.expires_epoch or now) - ACCESS_TOKEN_SECONDS)
    return JSONResponse({
        "resource_owner_id": token.user_id, "scope": token.scopes, "expires_in": remaining,
        "application": {"uid": token.oauth_application}, "created_at": created,
        "scopes": token.scopes, "expires_in_seconds": remaining,
    })  # fmt: skip
