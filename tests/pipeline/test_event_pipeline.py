"""Every GitLab event labstac uses, sent by the simulated GitLab over HTTP to the real API,
queued on real Redis, run by a real worker against real OpenSearch: the index ends equal to
GitLab after each change, whichever way the events arrive."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pipeline_stack import SECRET, Stack
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from support import REDIS_HOST_URL, REDIS_TEST_DB, wait_until

from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.world import DEVELOPER, REPORTER, Project, World
from indexer.access.cache import CachedPrincipals, memberships_key
from indexer.access.callers import Principal
from indexer.access.filter import access_filter
from indexer.access.memberships import MembershipResolver
from indexer.gitlab.async_client import GitLabHttp

pytestmark = pytest.mark.services


def admin_id(world: World) -> int:
    return next(u.id for u in world.users if u.is_admin and u.state == "active")


def some_group(world: World, *, nested: bool) -> int:
    """A group (nested or top-level), the most visible there is."""
    candidates = [g for g in world.groups if (g.parent_id is not None) == nested]
    order = {"public": 0, "internal": 1, "private": 2}
    return min(candidates, key=lambda g: (order[g.visibility], g.id)).id


def versions(stack: Stack, project_id: int) -> list[int]:
    alias = stack.runtime.layout.read_alias
    stack.client.indices.refresh(index=alias)
    hits = stack.client.search(
        index=alias, body={"query": {"term": {"_acl.project_id": project_id}}}
    )["hits"]["hits"]
    return [int(hit["_source"]["_acl"]["version"]) for hit in hits]


def test_every_system_hook_event_keeps_the_index_right(stack: Stack, redis_client: Redis) -> None:
    stack.system_hook()
    changes, world = stack.sim.changes, stack.sim.world
    group = some_group(world, nested=True)

    project = changes.create_project(
        "flood-model",
        "Flood model",
        group_id=group,
        visibility=world.group_by_id[group].visibility,
        topics=["sharinghub:dataset"],
    )
    stack.settle()
    changes.update_project(
        project.id,
        name="Flood segmentation model",
        topics=["sharinghub:dataset", "sharinghub:aimodel"],
    )
    stack.settle()
    changes.rename_project(project.id, "flood-segmentation")
    stack.settle()
    target = next(
        g.id
        for g in world.groups
        if g.id != group and g.visibility == world.group_by_id[group].visibility
    )
    changes.transfer_project(project.id, group_id=target)
    stack.settle()

    before = versions(stack, project.id)
    changes.push_files(project.id, admin_id(world), {"README.md": "# Flood\n"})
    stack.settle()
    wait_until(lambda: min(versions(stack, project.id)) > max(before), 20, "a re-index")

    parent = world.group_by_id[target].parent_id or target
    changes.rename_group(parent, f"{world.group_by_id[parent].path}-renamed")
    stack.settle()

    user = next(u for u in world.users if u.state == "active" and not u.is_admin)
    redis_client.set(memberships_key(user.id), '{"groups": {}, "projects": {}}')
    changes.add_member("group", group, user.id, DEVELOPER)
    wait_until(lambda: not redis_client.exists(memberships_key(user.id)), 20, "forget_user")

    changes.delete_project(project.id)
    stack.settle()
    doomed = next(
        g.id
        for g in world.groups
        if g.parent_id is None and any(p.topics for p in world.projects_by_group.get(g.id, []))
    )
    changes.delete_group(doomed)
    stack.settle()


def test_group_webhooks_alone_keep_the_index_right_with_the_scheduled_passes(
    stack: Stack,
) -> None:
    """gitlab.com has no system hooks: group webhooks on the top-level groups, plus the
    reconcile for what they do not say."""
    world = stack.sim.world
    for group in world.groups:
        if group.parent_id is None:
            stack.sim.hooks.add_group_hook(
                group.id,
                stack.hook_url,
                token=SECRET,
                project_events=True,
                push_events=True,
                releases_events=True,
                member_events=True,
                subgroup_events=True,
            )
    changes = stack.sim.changes
    group = some_group(world, nested=True)
    project = changes.create_project(
        "wine-quality",
        "Wine quality",
        group_id=group,
        visibility=world.group_by_id[group].visibility,
        topics=["sharinghub:aimodel"],
    )
    stack.settle()
    changes.push_files(project.id, admin_id(world), {"README.md": "# Wine\n"})
    changes.create_release(project.id, admin_id(world), "v1.0.0")
    stack.settle()
    changes.update_project(project.id, name="Wine quality classifier")  # no group event
    changes.delete_project(
        next(
            p.id
            for p in world.projects
            if p.topics and p.id != project.id and p.namespace_kind == "group"
        )
    )
    from workers.app import create_celery_app

    app = create_celery_app(stack.settings)
    try:
        app.send_task("labstac.workers.index.reconcile")  # what beat runs every 15 minutes
    finally:
        app.close()
    stack.settle()


def test_duplicated_resent_and_shuffled_deliveries_end_in_the_same_index(stack: Stack) -> None:
    hook = stack.system_hook()
    stack.sim.delivery.configure({"out_of_order": True, "reorder_window": 6, "seed": 3})
    changes, world = stack.sim.changes, stack.sim.world
    group = some_group(world, nested=False)
    made: list[Project] = []
    for n in range(4):
        made.append(
            changes.create_project(
                f"p{n}",
                f"P {n}",
                group_id=group,
                visibility=world.group_by_id[group].visibility,
                topics=["sharinghub:tools"],
            )
        )
    changes.update_project(made[0].id, name="Renamed twice")
    changes.rename_project(made[1].id, "p1-moved")
    changes.delete_project(made[2].id)
    changes.update_project(made[3].id, topics=["sharinghub:processor"])
    stack.sim.delivery.configure({"out_of_order": False})
    stack.sim.delivery.flush()
    for record in list(stack.sim.delivery.records):  # GitLab's "resend" for every delivery
        stack.sim.delivery.resend(record.id, hook, world.instance_url)
    stack.settle()
    metrics = httpx.get(f"{stack.api.url}/metrics").text
    assert 'outcome="duplicate"' in metrics


def test_a_share_reaches_the_index_within_the_next_access_pass(stack: Stack) -> None:
    import subprocess

    from support import LABSTAC_BIN, settings_env, stop_process

    world = stack.sim.world
    project = next(
        p
        for p in world.projects
        if p.topics
        and p.namespace_kind == "group"
        and p.repository_access_level != "disabled"
        and any(t.startswith("sharinghub:") for t in p.topics)
    )
    group = next(
        g.id for g in world.groups if g.id not in world.project_ancestor_group_ids(project)
    )
    env = {**settings_env(stack.settings), "LABSTAC_ACCESS_PASS_SECONDS": "2"}
    beat = subprocess.Popen(
        [LABSTAC_BIN, "beat"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        stack.sim.changes.share_project(project.id, group, DEVELOPER)  # GitLab sends nothing
        assert not stack.sim.delivery.records

        def shared() -> bool:
            alias = stack.runtime.layout.read_alias
            stack.client.indices.refresh(index=alias)
            hits = stack.client.search(
                index=alias, body={"query": {"term": {"_acl.project_id": project.id}}}
            )["hits"]["hits"]
            return bool(hits) and all(group in h["_source"]["_acl"]["share_ids"] for h in hits)

        wait_until(shared, 30, "the access pass to index the share")
    finally:
        stop_process(beat)


def test_a_member_removed_from_a_group_loses_access_at_once(stack: Stack) -> None:
    stack.system_hook()
    world, changes = stack.sim.world, stack.sim.changes
    project = next(
        p
        for p in world.projects
        if p.visibility == "private"
        and p.namespace_kind == "group"
        and p.repository_access_level == "enabled"
        and any(t.startswith("sharinghub:") for t in p.topics)
    )
    group = world.project_ancestor_group_ids(project)[-1]
    user = next(
        u
        for u in world.users
        if u.state == "active"
        and not u.is_admin
        and not Oracle(world, Caller.of(u)).can_read_repository(project)
        and not any(
            (m.source_type, m.source_id) == ("group", group)
            for m in world.memberships_by_user.get(u.id, [])
        )
    )
    token = next(t.token for t in world.tokens if t.user_id == user.id and t.name == "main")
    changes.add_member("group", group, user.id, REPORTER)
    stack.sim.delivery.flush()
    admin = stack.settings.gitlab_token
    assert admin is not None

    def sees_project() -> bool:
        async def principal() -> Principal:
            redis = AsyncRedis.from_url(f"{REDIS_HOST_URL}/{REDIS_TEST_DB}", decode_responses=True)
            http = GitLabHttp(stack.sim.url, 10)
            try:
                source = CachedPrincipals(
                    redis,
                    MembershipResolver(http, admin.get_secret_value()),
                    token_ttl=300,
                    membership_ttl=300,
                )
                return await source.principal(token)
            finally:
                await http.close()
                await redis.aclose()

        caller = asyncio.run(principal())
        query = {
            "bool": {
                "filter": [
                    {"term": {"_acl.project_id": project.id}},
                    access_filter(caller, min_access_level=20, anonymous_access=True),
                ]
            }
        }
        alias = stack.runtime.layout.read_alias
        return bool(stack.client.count(index=alias, body={"query": query})["count"])

    wait_until(sees_project, 10, "the new member to see the project")
    changes.remove_member("group", group, user.id)
    started = time.monotonic()
    wait_until(lambda: not sees_project(), 5, "the removed member to lose access")
    assert time.monotonic() - started < 3  # the hook, not a cache expiry (300 s here)
