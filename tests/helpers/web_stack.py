"""The stack of the web tests: the demo GitLab (its sign-in page and OAuth endpoints, a
private project with a thumbnail, an LFS model file and a 1 GiB LFS object), labstac's index
of it, and `labstac serve` with sign-in set up; and a browser-like walk through GitLab's
sign-in, as a person does it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import httpx
from support import ApiServer

from gitlab_sim.demo import PASSWORDS, TOKENS
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import OAuthApplication, RepoFile, World

BIG = "weights/big.bin"
BIG_SIZE = 1 << 30
WINE_ID = 3  # private, in wine-co; bob is its Reporter, alice is nothing there


@dataclass
class WebStack:
    world: World
    sim: SimulatorServer
    api: ApiServer
    application: OAuthApplication

    @property
    def stac(self) -> str:
        return f"{self.api.url}/api/v1/stac"


def add_web_fixtures(world: World) -> OAuthApplication:
    """The OAuth application labstac signs in with, and a 1 GiB LFS object."""
    wine = world.project_by_id[WINE_ID]
    pointer = (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{'e' * 64}\nsize {BIG_SIZE}\n"
    )
    wine.files[BIG] = RepoFile(BIG, pointer, lfs_size=BIG_SIZE)
    application = OAuthApplication(
        uid="labstac-test-client", secret="gloas-test-secret-0123456789", name="labstac",
        redirect_uris=[], scopes=["read_api", "read_user"],
    )  # fmt: skip
    world.oauth_applications.append(application)
    world.changed()
    return application


def _form(page: str) -> tuple[str, dict[str, str]]:
    action = re.search(r"<form method='post' action='([^']+)'", page)
    assert action, page[:500]
    fields = dict(re.findall(r"<input type='hidden' name='([^']+)' value='([^']*)'>", page))
    return action.group(1), {k: unescape(v) for k, v in fields.items()}


def sign_in(stack: WebStack, user: str, client: httpx.Client) -> httpx.Response:
    """GitLab's sign-in as a browser walks it, from labstac's sign-in link: returns
    labstac's final answer (the redirect back home, with the session cookie)."""
    started = client.get(f"{stack.api.url}/auth/login", params={"next": "/"})
    assert started.status_code == 302, started.text
    authorize = started.headers["location"]
    page = client.get(authorize)
    assert "Sign in" in page.text
    action, fields = _form(page.text)
    credentials = {"username": user, "password": PASSWORDS[user]}
    signed = client.post(urljoin(authorize, action), data={**fields, **credentials})
    assert signed.status_code == 302, signed.text
    consent = client.get(signed.headers["location"])
    action, fields = _form(consent.text)
    decided = client.post(urljoin(authorize, action), data={**fields, "decision": "authorize"})
    assert decided.status_code == 302, decided.text
    back = client.get(decided.headers["location"])  # labstac's /auth/callback
    return back


def token_of(user: str) -> str:
    return TOKENS[user]
