"""The GitLab hook receiver under uvicorn on real Redis: the secret is checked, bad input is
refused with a JSON reason, each event enqueues the tasks it calls for (payloads are the
examples of GitLab's documentation, tests/fixtures/gitlab_hooks), re-sent deliveries are
dropped, and with Redis unreachable a delivery is spooled, answered 202, and enqueued once
Redis is back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from support import (
    REDIS_HOST_URL,
    REDIS_TEST_DB,
    ApiServer,
    make_settings,
    queued_tasks,
    wait_until,
)
from tcp_proxy import TcpProxy, proxy_to

from indexer.settings import Settings

pytestmark = pytest.mark.services

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gitlab_hooks"
SECRET = "hook-secret-0123456789"
OLD_SECRET = "old-hook-secret-0123456789"


def fixture(name: str) -> tuple[dict[str, Any], str]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    header = data.get("_header", "System Hook")
    return {k: v for k, v in data.items() if not k.startswith("_")}, header


def hook_settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(
        webhook_secrets=f"{SECRET},{OLD_SECRET}", state_dir=tmp_path / "state", **overrides
    )


@pytest.fixture
def api(start_api: Callable[..., ApiServer], tmp_path: Path, redis_client: Redis) -> ApiServer:
    return start_api(hook_settings(tmp_path))


def post(api: ApiServer, payload: object, header: str = "System Hook", token: str = SECRET,
         **headers: str) -> httpx.Response:  # fmt: skip
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return httpx.post(
        f"{api.url}/hooks/gitlab",
        content=body,
        headers={"Content-Type": "application/json", "X-Gitlab-Event": header,
                 "X-Gitlab-Token": token, **headers},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "task", "arg"),
    [
        ("system_hook.project_create", "labstac.workers.index.index_project", 74),
        ("system_hook.project_rename", "labstac.workers.index.index_project", 73),
        ("system_hook.project_destroy", "labstac.workers.index.delete_project", 73),
        ("system_hook.repository_update", "labstac.workers.index.index_project", 1),
        ("system_hook.push", "labstac.workers.index.index_project", 15),
        ("push_hook.push", "labstac.workers.index.index_project", 15),
        ("release_hook.release", "labstac.workers.index.index_project", 2),
        ("system_hook.group_rename", "labstac.workers.index.refresh_group", 64),
        ("system_hook.group_destroy", "labstac.workers.index.refresh_group", 78),
        ("system_hook.user_add_to_team", "labstac.workers.access.forget_user", 41),
        ("system_hook.user_remove_from_group", "labstac.workers.access.forget_user", 41),
        ("member_hook.user_update_for_group", "labstac.workers.access.forget_user", 64),
        ("system_hook.user_rename", "labstac.workers.access.forget_user", 58),
    ],
)
def test_each_event_enqueues_its_task(
    api: ApiServer, redis_client: Redis, name: str, task: str, arg: int
) -> None:
    payload, header = fixture(name)
    response = post(api, payload, header)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    queue = api.settings.task_queue
    expected = [(task, [arg])]
    if name == "system_hook.user_rename":  # the user's personal projects have new paths
        expected.append(("labstac.workers.index.refresh_user", [arg]))
    assert queued_tasks(redis_client, queue) == expected


@pytest.mark.parametrize(
    "name", ["system_hook.tag_push", "system_hook.user_create", "system_hook.group_create"]
)
def test_events_labstac_does_not_use_are_accepted_and_counted(
    api: ApiServer, redis_client: Redis, name: str
) -> None:
    payload, header = fixture(name)
    response = post(api, payload, header)
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert queued_tasks(redis_client, api.settings.task_queue) == []
    metrics = httpx.get(f"{api.url}/metrics").text
    assert (
        f'labstac_hooks_total{{event="{payload["event_name"]}",outcome="ignored"}} 1.0' in metrics
    )


def test_a_push_to_another_branch_changes_nothing(api: ApiServer, redis_client: Redis) -> None:
    payload, header = fixture("push_hook.push")
    payload["ref"] = "refs/heads/feature/experiment"
    assert post(api, payload, header).json()["status"] == "ignored"
    assert queued_tasks(redis_client, api.settings.task_queue) == []


def test_the_secret_is_checked_and_never_echoed(api: ApiServer, redis_client: Redis) -> None:
    payload, header = fixture("system_hook.project_create")
    for token in ("", "wrong-secret-0123456789", SECRET[:-1]):
        refused = post(api, payload, header, token=token)
        assert refused.status_code == 401
        assert refused.json() == {
            "code": "unauthorized",
            "description": "missing or wrong X-Gitlab-Token",
        }
        assert token not in refused.text or not token
    assert post(api, payload, header, token=OLD_SECRET).status_code == 202  # rotation
    assert len(queued_tasks(redis_client, api.settings.task_queue)) == 1
    assert SECRET not in api.log() and OLD_SECRET not in api.log()


def test_bad_input_gets_a_json_reason(api: ApiServer, redis_client: Redis) -> None:
    not_json = post(api, b"{not json")
    assert not_json.status_code == 400
    assert not_json.json()["description"].startswith("the body is not valid JSON")
    assert post(api, b"[1, 2]").json()["description"] == "the body must be a JSON object"
    nameless = post(api, {"project_id": 1})
    assert nameless.status_code == 400
    assert "event_name nor object_kind" in nameless.json()["description"]
    payload, header = fixture("system_hook.project_create")
    del payload["project_id"]
    missing = post(api, payload, header)
    assert missing.status_code == 400
    assert missing.json() == {
        "code": "invalid_request",
        "description": "a project_create event needs project_id",
    }
    huge = post(api, b'{"event_name": "push", "pad": "' + b"x" * (6 * 1024 * 1024) + b'"}')
    assert huge.status_code == 413
    assert queued_tasks(redis_client, api.settings.task_queue) == []


def test_a_resent_delivery_is_dropped(api: ApiServer, redis_client: Redis) -> None:
    payload, header = fixture("system_hook.project_update")
    first = post(api, payload, header, **{"Idempotency-Key": "delivery-1"})
    again = post(api, payload, header, **{"Idempotency-Key": "delivery-1"})
    other = post(api, {**payload, "project_id": 75}, header, **{"Idempotency-Key": "delivery-2"})
    assert [r.json()["status"] for r in (first, again, other)] == ["queued", "duplicate", "queued"]
    assert len(queued_tasks(redis_client, api.settings.task_queue)) == 2


def test_a_burst_for_one_project_is_coalesced(api: ApiServer, redis_client: Redis) -> None:
    payload, header = fixture("system_hook.repository_update")
    statuses = [post(api, payload, header).json()["status"] for _ in range(20)]
    # No worker runs here: the first run waits in the queue and absorbs the rest.
    assert statuses == ["queued"] + ["coalesced"] * 19
    assert queued_tasks(redis_client, api.settings.task_queue) == [
        ("labstac.workers.index.index_project", [1])
    ]
    # Once a run has started (it drops the marker), the next event queues one more.
    redis_client.delete("labstac:pending:project:1")
    assert post(api, payload, header).json()["status"] == "queued"
    assert len(queued_tasks(redis_client, api.settings.task_queue)) == 2


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    with proxy_to(REDIS_HOST_URL, 6379) as proxy:
        yield proxy


def test_with_redis_down_deliveries_are_spooled_then_enqueued(
    start_api: Callable[..., ApiServer], tmp_path: Path, redis_client: Redis,
    redis_proxy: TcpProxy,
) -> None:  # fmt: skip
    settings = hook_settings(
        tmp_path, redis_url=f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_TEST_DB}"
    )
    api = start_api(settings)
    payload, header = fixture("system_hook.project_create")
    redis_proxy.stop()
    spooled = [post(api, {**payload, "project_id": n}, header) for n in (101, 102, 103)]
    assert [r.status_code for r in spooled] == [202, 202, 202]
    assert {r.json()["status"] for r in spooled} == {"spooled"}
    spool = tmp_path / "state" / "spool"
    assert sum(len(p.read_text().splitlines()) for p in spool.glob("*.jsonl")) == 3
    assert queued_tasks(redis_client, settings.task_queue) == []

    redis_proxy.start()
    expected = [("labstac.workers.index.index_project", [n]) for n in (101, 102, 103)]
    wait_until(lambda: queued_tasks(redis_client, settings.task_queue) == expected, 20,
               "the spool to drain")  # fmt: skip
    assert not any(p.read_text().strip() for p in spool.glob("*.jsonl"))
