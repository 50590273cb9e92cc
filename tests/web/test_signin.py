"""Sign-in with GitLab (OAuth 2 code + PKCE, through the simulator's sign-in and consent
pages), the session it makes, and sign-out, over HTTP as a browser does it."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from redis import Redis
from support import REDIS_HOST_URL, REDIS_TEST_DB
from web_stack import WebStack, sign_in

pytestmark = pytest.mark.services

WINE = "wine-co/wine-quality"


def search_ids(client: httpx.Client, stack: WebStack) -> set[str]:
    page = client.get(f"{stack.stac}/search", params={"limit": 100})
    assert page.status_code == 200, page.text
    return {feature["id"] for feature in page.json()["features"]}


def test_a_signed_in_user_sees_what_gitlab_shows_them_and_loses_it_on_sign_out(
    stack: WebStack,
) -> None:
    with httpx.Client(timeout=30) as browser:
        assert WINE not in search_ids(browser, stack)  # anonymous
        back = sign_in(stack, "bob", browser)
        assert back.status_code == 302 and back.headers["location"] == "/"
        cookie = back.headers["set-cookie"]
        assert "labstac_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie.replace("Lax", "lax") and "Secure" not in cookie  # http
        session_id = browser.cookies.get("labstac_session")
        assert session_id and len(session_id) >= 40
        # bob, external, Reporter of the private wine project: it, and public projects only.
        seen = search_ids(browser, stack)
        assert WINE in seen and "eo-lab/models/flood-segmentation" not in seen
        info = browser.get(f"{stack.api.url}/api/auth/info").json()
        assert info["username"] == "bob"
        # The session holds GitLab's token server-side, never in the cookie.
        redis = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}")
        stored = [json.loads(redis.get(k) or b"{}") for k in redis.scan_iter("labstac:session:*")]
        token = next(s["access_token"] for s in stored if s.get("username") == "bob")
        assert token not in cookie and session_id not in str(stored)
        gone = browser.get(f"{stack.api.url}/auth/logout")
        assert gone.status_code == 302 and 'labstac_session=""' in gone.headers["set-cookie"]
        assert WINE not in search_ids(browser, stack)
        # GitLab forgot the token too.
        info_after = httpx.get(f"{stack.sim.url}/oauth/token/info",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert info_after.status_code == 401
        redis.close()


def test_an_expiring_session_is_refreshed_with_gitlabs_refresh_token(stack: WebStack) -> None:
    redis = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}")
    with httpx.Client(timeout=30) as browser:
        sign_in(stack, "bob", browser)
        key = next(k for k in redis.scan_iter("labstac:session:*")
                   if json.loads(redis.get(k) or b"{}").get("username") == "bob")  # fmt: skip
        stored: dict[str, Any] = json.loads(redis.get(key) or b"{}")
        old = stored["access_token"]
        stored["expires_at"] = time.time() + 5  # about to expire
        redis.set(key, json.dumps(stored), keepttl=True)
        assert WINE in search_ids(browser, stack)
        renewed = json.loads(redis.get(key) or b"{}")
        assert renewed["access_token"] != old and renewed["expires_at"] > time.time() + 3600
        # Refresh tokens rotate: GitLab no longer takes the old access token.
        assert httpx.get(f"{stack.sim.url}/api/v4/user",
                         headers={"Authorization": f"Bearer {old}"}).status_code == 401  # fmt: skip
        # A refresh GitLab refuses ends the session: anonymous again, not an error.
        refused = {**renewed, "expires_at": time.time(), "refresh_token": "not-a-refresh-token"}
        redis.set(key, json.dumps(refused), keepttl=True)
        assert WINE not in search_ids(browser, stack)
        assert redis.get(key) is None
    redis.close()


def test_denied_expired_and_forged_sign_ins_leave_no_session(stack: WebStack) -> None:
    with httpx.Client(timeout=30) as browser:
        # The user says no on GitLab's consent page: back home, signed out.
        started = browser.get(f"{stack.api.url}/auth/login", params={"next": "/#/search"})
        state = httpx.URL(started.headers["location"]).params["state"]
        denied = browser.get(f"{stack.api.url}/auth/callback",
                             params={"error": "access_denied", "state": state})  # fmt: skip
        assert denied.status_code == 302 and "labstac_session" not in browser.cookies
        # The same state again, or one never issued: a clear 400.
        again = browser.get(f"{stack.api.url}/auth/callback", params={"code": "x", "state": state})
        assert again.status_code == 400 and "sign in again" in again.json()["description"]
        # A next address of another site is not followed (no open redirect).
        elsewhere = browser.get(f"{stack.api.url}/auth/login",
                                params={"next": "//evil.example.com/"})  # fmt: skip
        state = httpx.URL(elsewhere.headers["location"]).params["state"]
        assert browser.get(f"{stack.api.url}/auth/callback",
                           params={"error": "access_denied", "state": state}
                           ).headers["location"] == "/"  # fmt: skip
        # A forged cookie is nobody.
        browser.cookies.set("labstac_session", "forged-session-id-0123456789")
        assert WINE not in search_ids(browser, stack)
    # A callback link started in another browser (login CSRF: signing the victim in as
    # the attacker) is refused: the state is bound to the browser that asked.
    with httpx.Client(timeout=30) as attacker:
        started = attacker.get(f"{stack.api.url}/auth/login")
        state = httpx.URL(started.headers["location"]).params["state"]
    with httpx.Client(timeout=30) as victim:
        planted = victim.get(f"{stack.api.url}/auth/callback", params={"code": "c", "state": state})
        assert planted.status_code == 400 and "this browser" in planted.json()["description"]


def test_a_session_gitlab_no_longer_accepts_is_anonymous_not_an_error(stack: WebStack) -> None:
    with httpx.Client(timeout=30) as browser:
        sign_in(stack, "bob", browser)
        assert WINE in search_ids(browser, stack)
        answer = browser.get(f"{stack.stac}/search", params={"limit": 1})
        assert answer.headers["cache-control"] == "private"  # one caller's view
        assert "Cookie" in answer.headers["vary"]
        # bob revokes labstac's access in GitLab (or is blocked): his token stops working.
        for token in stack.world.tokens:
            if token.oauth_application == stack.application.uid:
                token.revoked = True
        stack.world.changed()
        redis = Redis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}")
        for key in redis.scan_iter("labstac:token:*"):  # the token's cached verdict
            redis.delete(key)
        redis.close()
        assert WINE not in search_ids(browser, stack)
        assert browser.get(f"{stack.api.url}/api/auth/info").status_code == 401


def test_the_web_page_and_its_configuration(stack: WebStack) -> None:
    home = httpx.get(f"{stack.api.url}/", timeout=30)
    assert home.status_code == 200 and "<div id=" in home.text and "/config.js" in home.text
    config = httpx.get(f"{stack.api.url}/config.js", timeout=30)
    assert config.headers["cache-control"] == "no-store"
    body = json.loads(config.text.removeprefix("window.STAC_BROWSER_CONFIG = ").rstrip(";\n"))
    assert body["catalogUrl"] == stack.stac
    assert body["footerLinks"] == [{"label": "Sign in with GitLab",
                                    "url": f"{stack.api.url}/auth/login"}]  # fmt: skip
    landing = httpx.get(stack.stac, timeout=30).json()
    assert next(ln["href"] for ln in landing["links"] if ln["rel"] == "self") == body["catalogUrl"]
