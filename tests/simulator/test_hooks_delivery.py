"""Delivery like GitLab's: a timeout, no retry, the outcome recorded, resends that keep the
Idempotency-Key; and the faults tests need: lost deliveries and deliveries out of order."""

from __future__ import annotations

import time

import pytest
from hooktest import Hub, assert_gitlab_headers

from gitlab_sim.delivery import DEFAULT_TIMEOUT_SECONDS, DeliveryError, DeliverySettings

HOOK_KEY = "hook-key"  # a hook's secret token


def make_users(hub: Hub, count: int) -> list[int]:
    """``count`` changes, each sending one user_create; returns the users' ids in order."""
    return [hub.changes.create_user(f"new{len(hub.world.users)}").id for _ in range(count)]


def test_gitlab_defaults() -> None:
    settings = DeliverySettings()
    assert settings.timeout_seconds == DEFAULT_TIMEOUT_SECONDS == 10.0
    assert (settings.drop_share, settings.out_of_order) == (0.0, False)


def test_a_timeout_is_recorded_and_not_retried(hub: Hub) -> None:
    hook = hub.system_hook()
    hub.delivery.configure({"timeout_seconds": 0.1})
    hub.receiver.delay_seconds = 0.3

    make_users(hub, 1)
    hub.delivery.flush(5)
    time.sleep(0.4)  # time enough for a retry, if there were one

    (record,) = hub.delivery.select(hook_id=hook.id)
    assert record.state == "failed"
    assert "Timeout" in (record.error or "")
    assert record.to_json()["response_status"] == "internal error"
    assert len(hub.receiver.received) == 1


def test_the_response_status_is_recorded_and_errors_are_not_retried(hub: Hub) -> None:
    hook = hub.system_hook()
    hub.receiver.status = 500

    make_users(hub, 1)
    hub.delivery.flush(5)

    (record,) = hub.delivery.select(hook_id=hook.id)
    assert (record.state, record.response_status) == ("sent", 500)
    assert record.to_json()["response_status"] == 500
    assert record.duration_ms is not None
    assert len(hub.receiver.received) == 1

    hub.hooks.add_system_hook("http://127.0.0.1:9/unreachable")
    make_users(hub, 1)
    hub.delivery.flush(5)
    failed = [r for r in hub.delivery.records if r.url.endswith("/unreachable")]
    assert [r.state for r in failed] == ["failed"]


def test_a_resend_keeps_the_idempotency_key_and_nothing_else(hub: Hub) -> None:
    hub.system_hook(token=HOOK_KEY)
    make_users(hub, 2)
    first, second = hub.sent()
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]
    original = hub.delivery.records[0]
    assert original.idempotency_key == first.headers["Idempotency-Key"]

    resent = hub.delivery.resend(
        original.id, hub.hooks.get(original.hook_id), hub.world.instance_url
    )
    again = hub.delivery.resend(
        original.id, hub.hooks.get(original.hook_id), hub.world.instance_url
    )

    copies = hub.receiver.received[2:]
    assert len(copies) == 2
    for copy in copies:
        assert_gitlab_headers(copy, hub.world.instance_url, token=HOOK_KEY)
        assert copy.body == first.body
        assert copy.headers["Idempotency-Key"] == first.headers["Idempotency-Key"]
        assert copy.headers["X-Gitlab-Event"] == first.headers["X-Gitlab-Event"]
    for header in ("X-Gitlab-Webhook-UUID", "X-Gitlab-Event-UUID"):
        assert len({first.headers[header], *(c.headers[header] for c in copies)}) == 3
    assert (resent.resend_of, again.resend_of) == (original.id, original.id)
    assert resent.state == again.state == "sent" and original.state == "sent"
    assert len({original.id, resent.id, again.id}) == 3


def test_gitlab_refuses_to_resend_when_the_hook_changed(hub: Hub) -> None:
    hook = hub.system_hook()
    make_users(hub, 1)
    hub.delivery.flush(5)
    (record,) = hub.delivery.records

    hook.url = hub.receiver.url("/elsewhere")
    with pytest.raises(DeliveryError) as moved:
        hub.delivery.resend(record.id, hook, hub.world.instance_url)
    assert moved.value.status == 422
    with pytest.raises(DeliveryError) as gone:
        hub.delivery.resend(record.id, None, hub.world.instance_url)
    assert gone.value.status == 404
    assert len(hub.receiver.received) == 1


def test_a_dropped_delivery_is_recorded_and_can_be_resent(hub: Hub) -> None:
    hook = hub.system_hook()
    hub.delivery.configure({"drop_share": 1.0})

    make_users(hub, 3)
    assert hub.sent() == []
    records = hub.delivery.select(hook_id=hook.id)
    assert [r.state for r in records] == ["dropped"] * 3

    resent = hub.delivery.resend(records[1].id, hook, hub.world.instance_url)  # never dropped
    (arrived,) = hub.receiver.received
    assert resent.state == "sent"
    assert arrived.headers["Idempotency-Key"] == records[1].idempotency_key
    assert arrived.body == records[1].payload


def test_a_share_of_deliveries_is_dropped_the_same_way_for_a_seed(hub: Hub) -> None:
    hook = hub.system_hook()
    hub.delivery.configure({"drop_share": 0.5, "seed": 3})

    ids = make_users(hub, 20)
    sent = hub.sent()

    records = hub.delivery.select(hook_id=hook.id)
    dropped = [r for r in records if r.state == "dropped"]
    assert 0 < len(dropped) < 20
    delivered = [r.payload["user_id"] for r in records if r.state == "sent"]
    assert [r.body["user_id"] for r in sent] == delivered
    assert set(delivered) | {r.payload["user_id"] for r in dropped} == set(ids)

    hub.delivery.configure({"seed": 3})  # the same seed draws the same losses
    make_users(hub, 20)
    hub.delivery.flush(5)
    again = hub.delivery.select(hook_id=hook.id)[20:]
    assert [r.state for r in again] == [r.state for r in records]


def test_deliveries_out_of_order(hub: Hub) -> None:
    hub.system_hook()
    hub.delivery.configure({"out_of_order": True, "seed": 7, "reorder_window": 100})

    ids = make_users(hub, 8)
    time.sleep(0.1)
    assert hub.receiver.received == []  # held back until flushed
    assert {r.state for r in hub.delivery.records} == {"held"}

    order = [r.body["user_id"] for r in hub.sent()]
    assert sorted(order) == ids
    assert order != ids

    hub.delivery.configure({"reorder_window": 4})  # a full window goes out by itself
    make_users(hub, 4)
    hub.receiver.wait_for(12, timeout=5)

    hub.delivery.configure({"out_of_order": False})
    hub.receiver.clear()
    in_order = make_users(hub, 5)
    assert [r.body["user_id"] for r in hub.sent()] == in_order


def test_bad_settings_are_refused(hub: Hub) -> None:
    for bad in ({"drop_share": 2}, {"timeout_seconds": 0}, {"out_of_order": "yes"}, {"x": 1}):
        with pytest.raises(DeliveryError):
            hub.delivery.configure(bad)
