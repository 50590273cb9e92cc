"""The HTTP face of gitlab_sim.changes and of the hooks: control endpoints under ``/-/sim/``
(a prefix GitLab does not use), so that another process (the demo, a shell) can change the
world and watch the hooks it sends. JSON in, JSON out; 400 with ``{"error": ...}`` on bad
input, 404 for what does not exist, 409 for what already does.

Every change answers ``{"result": ..., "change_id": n, "deliveries": [ids]}``: the changed
object and the deliveries the change queued.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import types
from collections import abc
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

from starlette.requests import Request
from starlette.responses import Response

from gitlab_sim.changes import ChangeError
from gitlab_sim.delivery import DeliveryError
from gitlab_sim.hooks import HookError
from gitlab_sim.world import Group, Project, World

if TYPE_CHECKING:
    from gitlab_sim.api import SimulatorApp

# (method, path, Changes method): path groups are integer arguments of the method.
CHANGE_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"/users", "create_user"),
    ("PUT", r"/users/(?P<user_id>\d+)", "update_user"),
    ("POST", r"/users/(?P<user_id>\d+)/block", "block_user"),
    ("DELETE", r"/users/(?P<user_id>\d+)", "delete_user"),
    ("POST", r"/groups", "create_group"),
    ("PUT", r"/groups/(?P<group_id>\d+)", "update_group"),
    ("DELETE", r"/groups/(?P<group_id>\d+)", "delete_group"),
    ("POST", r"/groups/(?P<group_id>\d+)/shares", "share_group"),
    ("DELETE", r"/groups/(?P<group_id>\d+)/shares", "unshare_group"),
    ("POST", r"/projects", "create_project"),
    ("PUT", r"/projects/(?P<project_id>\d+)", "update_project"),
    ("POST", r"/projects/(?P<project_id>\d+)/transfer", "transfer_project"),
    ("DELETE", r"/projects/(?P<project_id>\d+)", "delete_project"),
    ("POST", r"/projects/(?P<project_id>\d+)/push", "push"),
    ("POST", r"/projects/(?P<project_id>\d+)/tags", "create_tag"),
    ("POST", r"/projects/(?P<project_id>\d+)/releases", "create_release"),
    ("POST", r"/projects/(?P<project_id>\d+)/shares", "share_project"),
    ("DELETE", r"/projects/(?P<project_id>\d+)/shares", "unshare_project"),
    ("POST", r"/members", "add_member"),
    ("PUT", r"/members", "update_member"),
    ("DELETE", r"/members", "remove_member"),
    ("POST", r"/members/expire", "expire_members"),
]
COMPILED = [(m, re.compile(f"^{p}$"), name) for m, p, name in CHANGE_ROUTES]


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def error(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def plain(world: World, value: Any) -> Any:
    """A changed object as JSON: its dataclass fields, projects without file contents."""
    if isinstance(value, list):
        return [plain(world, item) for item in value]
    if isinstance(value, Project):
        body = {k: v for k, v in asdict(value).items() if k != "files"}
        body["files"] = sorted(value.files)
        if value.id in world.project_by_id:
            body["path_with_namespace"] = world.project_full_path(value)
        return body
    if isinstance(value, Group):
        body = asdict(value)
        if value.id in world.group_by_id:
            body["full_path"] = world.group_full_path(value.id)
        return body
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ChangeError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise ChangeError("the body must be a JSON object")
    return body


async def control(app: SimulatorApp, request: Request, path: str) -> Response | None:
    """Answer a ``/-/sim/`` path this module owns, or None to let the caller go on."""
    handler = _pick(request.method, path)
    if handler is None:
        return None
    try:
        return await handler(app, request)
    except (ChangeError, HookError, DeliveryError) as problem:
        return error(str(problem), problem.status)


Handler = Callable[["SimulatorApp", Request], Awaitable[Response]]


def _pick(method: str, path: str) -> Handler | None:
    for route_method, pattern, name in COMPILED:
        found = pattern.match(path)
        if found and route_method == method:
            args = {k: int(v) for k, v in found.groupdict().items()}
            return _change_handler(name, args)
    simple: dict[tuple[str, str], Handler] = {
        ("GET", "/hooks"): _list_hooks,
        ("POST", "/hooks"): _add_hook,
        ("GET", "/deliveries"): _list_deliveries,
        ("DELETE", "/deliveries"): _clear_deliveries,
        ("POST", "/deliveries/flush"): _flush,
        ("GET", "/deliveries/settings"): _delivery_settings,
        ("PUT", "/deliveries/settings"): _delivery_settings,
        ("GET", "/application_settings"): _application_settings,
        ("PUT", "/application_settings"): _application_settings,
    }
    if (method, path) in simple:
        return simple[(method, path)]
    found = re.match(r"^/hooks/(\d+)$", path)
    if found and method == "DELETE":
        return _with_id(_remove_hook, int(found.group(1)))
    found = re.match(r"^/deliveries/(\d+)$", path)
    if found and method == "GET":
        return _with_id(_get_delivery, int(found.group(1)))
    found = re.match(r"^/deliveries/(\d+)/resend$", path)
    if found and method == "POST":
        return _with_id(_resend, int(found.group(1)))
    return None


def _change_handler(name: str, path_args: dict[str, int]) -> Handler:
    async def handle(app: SimulatorApp, request: Request) -> Response:
        changes = app.changes
        method = getattr(changes, name)
        kwargs = {**(await _body(request)), **path_args}
        try:
            inspect.signature(method).bind(**kwargs)
        except TypeError as problem:
            raise ChangeError(f"{name}: {problem}") from None
        hints = get_type_hints(method)
        for key, value in kwargs.items():
            if not _fits(value, hints.get(key, Any)):
                raise ChangeError(f"{name}: {key} cannot be {json.dumps(value)}")
        result = method(**kwargs)
        return json_response(
            {
                "result": plain(changes.world, result),
                "change_id": changes.change_id,
                "deliveries": [record.id for record in changes.last],
            }
        )

    return handle


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a parameter's annotation, so that a wrong type is a 400
    rather than a failure inside the change."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (hint is float or isinstance(value, int))
        )
    if origin in (list, abc.Iterable):
        return isinstance(value, list) and all(_fits(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _with_id(
    handler: Callable[[SimulatorApp, Request, int], Awaitable[Response]], item: int
) -> Handler:
    async def handle(app: SimulatorApp, request: Request) -> Response:
        return await handler(app, request, item)

    return handle


async def _list_hooks(app: SimulatorApp, request: Request) -> Response:
    return json_response([hook.to_json() for hook in app.hooks.hooks])


async def _add_hook(app: SimulatorApp, request: Request) -> Response:
    body = await _body(request)
    kind = body.pop("kind", None)
    url = body.pop("url", None)
    if not isinstance(kind, str) or not isinstance(url, str):
        raise HookError("kind and url are required")
    toggles = {k: body.pop(k) for k in list(body) if k.endswith("_events")}
    unknown = set(body) - {"token", "group_id", "project_id"}
    if unknown:
        raise HookError(f"unknown fields: {', '.join(sorted(unknown))}")
    token, group_id, project_id = body.get("token"), body.get("group_id"), body.get("project_id")
    if not all(isinstance(v, bool) for v in toggles.values()):
        raise HookError("event toggles are true or false")
    if token is not None and not isinstance(token, str):
        raise HookError("token is a string")
    if any(v is not None and not isinstance(v, int) for v in (group_id, project_id)):
        raise HookError("group_id and project_id are numbers")
    hook = app.hooks.add(
        kind,  # type: ignore[arg-type]  # checked by add
        url,
        token=token,
        group_id=group_id,
        project_id=project_id,
        events=toggles,
        world=app.world,
    )
    return json_response(hook.to_json(), 201)


async def _remove_hook(app: SimulatorApp, request: Request, hook_id: int) -> Response:
    if not app.hooks.remove(hook_id):
        raise HookError(f"no hook {hook_id}", 404)
    return Response(status_code=204)


async def _list_deliveries(app: SimulatorApp, request: Request) -> Response:
    params = request.query_params

    def number(name: str) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if not value.isdigit():
            raise DeliveryError(f"{name} must be a number")
        return int(value)

    records = app.delivery.select(
        hook_id=number("hook_id"),
        event=params.get("event"),
        after_id=number("after_id") or 0,
        change_id=number("change_id"),
    )
    return json_response([record.to_json() for record in records])


async def _get_delivery(app: SimulatorApp, request: Request, record_id: int) -> Response:
    record = app.delivery.get(record_id)
    if record is None:
        raise DeliveryError(f"no delivery {record_id}", 404)
    return json_response(record.to_json())


async def _resend(app: SimulatorApp, request: Request, record_id: int) -> Response:
    original = app.delivery.get(record_id)
    if original is None:
        raise DeliveryError(f"no delivery {record_id}", 404)
    hook = app.hooks.get(original.hook_id)
    # Synchronous, as GitLab's resend is; in a thread, so the server keeps answering.
    record = await asyncio.to_thread(app.delivery.resend, record_id, hook, app.world.instance_url)
    return json_response(record.to_json())


async def _flush(app: SimulatorApp, request: Request) -> Response:
    body = await _body(request)
    try:
        await asyncio.to_thread(app.delivery.flush, float(body.get("timeout", 30)))
    except TimeoutError as problem:
        raise DeliveryError(str(problem), 504) from None
    return json_response({"flushed": True})


async def _clear_deliveries(app: SimulatorApp, request: Request) -> Response:
    app.delivery.clear()
    return Response(status_code=204)


async def _delivery_settings(app: SimulatorApp, request: Request) -> Response:
    if request.method == "PUT":
        app.delivery.configure(await _body(request))
    return json_response(app.delivery.settings.to_json())


async def _application_settings(app: SimulatorApp, request: Request) -> Response:
    if request.method == "PUT":
        body = await _body(request)
        unknown = set(body) - {"push_event_hooks_limit"}
        if unknown:
            raise ChangeError(f"unknown settings: {', '.join(sorted(unknown))}")
        limit = body.get("push_event_hooks_limit", app.hooks.push_event_hooks_limit)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ChangeError("push_event_hooks_limit must be a non-negative integer")
        app.hooks.push_event_hooks_limit = limit
    return json_response({"push_event_hooks_limit": app.hooks.push_event_hooks_limit})
