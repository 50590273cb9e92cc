"""One web stack per test module (building it takes seconds): see web_stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from support import drop_indices, indexed_runtime, make_settings, start_api, stop_process
from web_stack import WebStack, add_web_fixtures

from gitlab_sim.demo import TOKENS, demo_world, fill_gitlab_url
from gitlab_sim.server import SimulatorServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    world = demo_world()
    application = add_web_fixtures(world)
    sim = SimulatorServer(world).start()
    fill_gitlab_url(world)
    settings = make_settings(
        gitlab_url=sim.url, gitlab_token=TOKENS["root"], index_prefix=f"w{uuid.uuid4().hex[:10]}",
        oauth_client_id=application.uid, oauth_client_secret=application.secret,
        oauth_scopes="read_api read_user",
    )  # fmt: skip
    runtime = indexed_runtime(settings)
    api = start_api(settings, tmp_path_factory.mktemp("web"))
    application.redirect_uris.append(f"{api.url}/auth/callback")
    yield WebStack(world, sim, api, application)
    stop_process(api.process)
    sim.stop()
    runtime.close()
    drop_indices(settings.index_prefix)
