"""The STAC API under uvicorn, on real OpenSearch, indexed from the simulated GitLab: what
pystac-client, QGIS and STAC Browser use, and for each caller exactly what GitLab allows."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from opensearchpy import OpenSearch
from pystac_client import Client
from support import ApiServer, make_settings

from gitlab_sim.generator import generate
from gitlab_sim.permissions import Caller, Oracle
from gitlab_sim.server import SimulatorServer
from gitlab_sim.world import Project, World
from indexer.index.runtime import IndexRuntime
from indexer.stac.categories import DEFAULT_CATEGORIES, Category, categories_of

pytestmark = pytest.mark.services
ROOT = "/api/v1/stac"


@dataclass
class Catalog:
    world: World
    sim: SimulatorServer
    runtime: IndexRuntime
    api: ApiServer

    @property
    def root(self) -> str:
        return f"{self.api.url}{ROOT}"

    def token(self, username: str, name: str = "main") -> str:
        return self.world.token_named(self.world.user_by_username[username].id, name).token


def indexed(make_runtime: Callable[..., IndexRuntime], sim: SimulatorServer) -> IndexRuntime:
    # With Admin Mode on, only labstac's admin_mode token acts as admin.
    runtime = make_runtime(sim, token_name="admin-mode")
    summary = runtime.rebuild().run()
    assert summary.swapped and not summary.failed
    return runtime


@pytest.fixture
def catalog(
    start_api: Callable[..., ApiServer], make_runtime: Callable[..., IndexRuntime]
) -> Iterator[Catalog]:
    world = generate(seed=101, users=20, groups=12, projects=120)
    with SimulatorServer(world) as sim:
        runtime = indexed(make_runtime, sim)
        yield Catalog(world, sim, runtime, start_api(runtime.settings))


def readable(world: World, token: str | None) -> set[tuple[str, int]]:
    caller = Caller.with_token(world, world.token_by_value[token]) if token else Caller.anonymous()
    oracle = Oracle(world, caller)
    return {
        (category.id, project.id)
        for project in world.projects
        if oracle.can_read_repository(project)
        for category in categories_of(project.topics, DEFAULT_CATEGORIES)
    }


def walk(
    client: httpx.Client, url: str, method: str = "GET", body: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every feature of a search, following next links (GET, or POST with merged bodies)."""
    features: list[dict[str, Any]] = []
    response = client.get(url) if method == "GET" else client.post(url, json=body)
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        features += page["features"]
        following = next((link for link in page["links"] if link["rel"] == "next"), None)
        if following is None:
            return features
        if following.get("method", "GET") == "POST":
            merged = (
                {**(body or {}), **following["body"]}
                if following.get("merge")
                else following["body"]
            )
            response = client.post(following["href"], json=merged)
        else:
            response = client.get(following["href"])


def keys(features: list[dict[str, Any]], world: World) -> set[tuple[str, int]]:
    return {(f["collection"], world.project_by_full_path[f["id"].lower()].id) for f in features}


def test_pystac_client_opens_lists_and_searches(catalog: Catalog) -> None:
    token = catalog.token("user1")  # an admin
    client = Client.open(catalog.root, headers={"PRIVATE-TOKEN": token})
    assert {c.id for c in client.get_collections()} == {c.id for c in DEFAULT_CATEGORIES}
    everything = readable(catalog.world, token)
    every_item = {
        (i.collection_id, catalog.world.project_by_full_path[i.id.lower()].id)
        for i in client.search(max_items=None, limit=17).items()
    }
    assert every_item == everything
    search = client.search(collections=["ai-model", "dataset"], limit=7, method="GET")
    pages = list(search.pages())
    assert len(pages) >= 3
    both = {key for key in everything if key[0] in ("ai-model", "dataset")}
    assert {
        (i.collection_id, catalog.world.project_by_full_path[i.id.lower()].id)
        for page in pages
        for i in page.items
    } == both
    post_pages = list(
        client.search(collections=["ai-model", "dataset"], limit=7, method="POST").pages()
    )
    assert len(post_pages) == len(pages)
    some = list(client.search(limit=3, max_items=3).items())
    ids = client.search(ids=[i.id for i in some], max_items=None)
    assert {i.id for i in ids.items()} == {i.id for i in some}


def test_spatial_and_temporal_searches_match_the_index(
    catalog: Catalog, opensearch_client: OpenSearch
) -> None:
    token = catalog.token("user1")
    client = Client.open(catalog.root, headers={"PRIVATE-TOKEN": token})
    alias = catalog.runtime.layout.read_alias
    box = [-60, -30, 40, 40]
    polygon = {
        "type": "Polygon",
        "coordinates": [[[-60, -30], [40, -30], [40, 40], [-60, 40], [-60, -30]]],
    }

    def index_ids(clause: dict[str, Any]) -> set[str]:
        hits = opensearch_client.search(index=alias, body={"size": 10_000, "query": clause})[
            "hits"
        ]["hits"]
        return {h["_id"] for h in hits}

    def api_ids(search: Any) -> set[str]:
        return {
            f"{i.collection_id}:{catalog.world.project_by_full_path[i.id.lower()].id}"
            for i in search.items()
        }

    spatial = index_ids({"geo_shape": {"geometry": {"shape": polygon, "relation": "intersects"}}})
    assert spatial and len(spatial) < len(index_ids({"match_all": {}}))
    assert api_ids(client.search(bbox=box, max_items=None, limit=20)) == spatial
    assert api_ids(client.search(intersects=polygon, max_items=None, limit=20)) == spatial
    window = "2026-03-01T00:00:00Z/2026-04-30T23:59:59Z"
    in_time = index_ids(
        {
            "range": {
                "properties.datetime": {
                    "gte": "2026-03-01T00:00:00Z",
                    "lte": "2026-04-30T23:59:59Z",
                }
            }
        }
    )
    found = api_ids(client.search(datetime=window, max_items=None, limit=20))
    assert in_time and in_time <= found  # items whose start..end range overlaps come too
    open_ended = api_ids(
        client.search(datetime="2026-03-01T00:00:00Z/..", max_items=None, limit=50)
    )
    assert found <= open_ended


def test_each_caller_sees_exactly_what_gitlab_allows_through_every_page(catalog: Catalog) -> None:
    world = catalog.world
    callers: list[str | None] = [None]
    for token in world.tokens:
        user = world.user_by_id[token.user_id]
        if token.name == "main" and user.state == "active" and len(callers) < 8:
            callers.append(token.token)
    with httpx.Client(timeout=30) as client:
        for token in callers:
            client.headers.clear()
            if token:
                client.headers["PRIVATE-TOKEN"] = token
            got = keys(walk(client, f"{catalog.root}/search?limit=13"), world)
            assert got == readable(world, token), f"caller {token and token[-6:]}"
            posted = keys(walk(client, f"{catalog.root}/search", "POST", {"limit": 11}), world)
            assert posted == got


def listed_project(world: World, visibility: str) -> tuple[Project, Category]:
    """The first project of this visibility with a readable repository and a category."""
    project = next(
        p
        for p in world.projects
        if p.visibility == visibility
        and p.repository_access_level == "enabled"
        and categories_of(p.topics, DEFAULT_CATEGORIES)
    )
    return project, categories_of(project.topics, DEFAULT_CATEGORIES)[0]


def test_a_renamed_project_is_found_at_its_new_path_and_the_old_one_redirects(
    catalog: Catalog,
) -> None:
    world = catalog.world
    project, category = listed_project(world, "public")
    old_path = world.project_full_path(project)
    catalog.sim.changes.rename_project(project.id, f"{project.path}-renamed")
    catalog.runtime.project_sync().sync(project.id)  # what the project_rename hook causes
    catalog.runtime.engine.refresh(catalog.runtime.layout.read_alias)
    new_path = world.project_full_path(project)
    items = f"{catalog.root}/collections/{category.id}/items"
    found = httpx.get(f"{items}/{new_path}")
    assert found.status_code == 200 and found.json()["id"] == new_path
    moved = httpx.get(f"{items}/{old_path}", follow_redirects=False)
    assert moved.status_code == 308
    assert moved.headers["location"] == f"{items}/{new_path}"
    assert httpx.get(f"{items}/{old_path}", follow_redirects=True).json()["id"] == new_path


def test_bad_requests_get_clear_errors(catalog: Catalog) -> None:
    root = catalog.root
    point = quote('{"type": "Point", "coordinates": [0, 0]}')
    cases = {
        "/search?bbox=1,2,3": (400, "bbox must be 4 or 6 numbers, not 3"),
        f"/search?bbox=0,0,1,1&intersects={point}": (
            400,
            "bbox and intersects cannot be used together",
        ),
        "/search?datetime=yesterday": (400, "datetime: 'yesterday' is not an RFC 3339 date-time"),
        "/search?datetime=2024-02-01T00:00:00Z/2024-01-01T00:00:00Z": (
            400,
            "datetime starts after it ends",
        ),
        "/search?limit=0": (400, "limit must be at least 1"),
        "/search?token=garbage!": (400, "token is not a page token this API gave"),
        "/search?cloudy=1": (400, "unknown parameter(s): cloudy"),
        "/search?collections=dataset,no-such-thing": (
            400,
            "unknown collection(s): no-such-thing",
        ),
        "/collections/no-such-thing": (404, "no collection no-such-thing"),
        "/collections/no-such-thing/items": (404, "no collection no-such-thing"),
        "/collections/dataset/items/no/such/item": (
            404,
            "no item no/such/item in collection dataset",
        ),
    }
    for path, (status, description) in cases.items():
        response = httpx.get(f"{root}{path}")
        assert response.status_code == status, path
        assert response.json()["description"] == description, path
    big = httpx.get(f"{root}/search?limit=5000", headers={"PRIVATE-TOKEN": catalog.token("user1")})
    assert big.status_code == 200 and big.json()["numberReturned"] <= 1000
    assert httpx.get(f"{root}/search", headers={"PRIVATE-TOKEN": "glpat-nope"}).status_code == 401


def test_an_item_the_caller_may_not_read_is_a_404(catalog: Catalog) -> None:
    world = catalog.world
    private, category = listed_project(world, "private")
    url = f"{catalog.root}/collections/{category.id}/items/{world.project_full_path(private)}"
    hidden = httpx.get(url)
    assert hidden.status_code == 404
    assert hidden.json()["description"].startswith("no item")
    assert httpx.get(url, headers={"PRIVATE-TOKEN": catalog.token("user1")}).status_code == 200


def test_links_use_the_public_base_url_and_never_carry_the_token(catalog: Catalog) -> None:
    token = catalog.token("user1")
    response = httpx.get(
        f"{catalog.root}/search?limit=2",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "stac.example.org",
        },
    )
    page = response.json()
    assert page["numberReturned"] == 2
    hrefs = [link["href"] for link in page["links"]] + [
        link["href"] for f in page["features"] for link in f["links"]
    ]
    assert any(href.startswith("https://stac.example.org/api/v1/stac/") for href in hrefs)
    assert token not in response.text
    browser = httpx.get(catalog.root, headers={"Origin": "https://radiantearth.github.io"})
    assert browser.headers["access-control-allow-origin"] == "*"  # STAC Browser elsewhere


def test_the_landing_page_conformance_and_openapi(catalog: Catalog) -> None:
    landing = httpx.get(catalog.root).json()
    rels = {(link["rel"], link.get("method")) for link in landing["links"]}
    assert {
        ("self", None),
        ("conformance", None),
        ("data", None),
        ("search", "GET"),
        ("search", "POST"),
        ("service-desc", None),
        ("service-doc", None),
    } <= rels
    assert "https://api.stacspec.org/v1.0.0/item-search" in landing["conformsTo"]
    spec = httpx.get(f"{catalog.root}/api")
    assert spec.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    paths = spec.json()["paths"]
    assert set(paths) == {
        "/",
        "/conformance",
        "/collections",
        "/collections/{collection_id}",
        "/collections/{collection_id}/items",
        "/collections/{collection_id}/items/{item_id}",
        "/collections/{collection_id}/queryables",
        "/queryables",
        "/search",
    }
    assert {p["name"] for p in paths["/search"]["get"]["parameters"]} == {
        "bbox",
        "intersects",
        "datetime",
        "ids",
        "collections",
        "limit",
        "token",
        "sortby",
        "fields",
        "q",
        "filter",
        "filter-lang",
        "filter-crs",
        "query",
    }
    assert "<h1>labstac STAC API</h1>" in httpx.get(f"{catalog.root}/api.html").text


def test_collection_extents_only_cover_what_the_caller_sees(catalog: Catalog) -> None:
    anonymous = httpx.get(f"{catalog.root}/collections").json()["collections"]
    admin = httpx.get(
        f"{catalog.root}/collections", headers={"PRIVATE-TOKEN": catalog.token("user1")}
    ).json()["collections"]
    for mine, theirs in zip(anonymous, admin, strict=True):
        assert mine["id"] == theirs["id"]
        first, last = mine["extent"]["temporal"]["interval"][0]
        all_first, all_last = theirs["extent"]["temporal"]["interval"][0]
        if first:
            assert all_first <= first and last <= all_last


def test_collection_search_by_text_place_and_time_a_page_at_a_time(catalog: Catalog) -> None:
    headers = {"PRIVATE-TOKEN": catalog.token("user1")}
    url = f"{catalog.root}/collections"
    listing = httpx.get(url, headers=headers).json()
    every = {c["id"]: c for c in listing["collections"]}
    assert set(every) == {c.id for c in DEFAULT_CATEGORIES}
    assert listing["numberMatched"] == listing["numberReturned"] == len(every)

    def ids(params: dict[str, Any]) -> set[str]:
        response = httpx.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["collections"]}

    def meets(extent: dict[str, Any], west: float, south: float, east: float, north: float) -> bool:
        w, s, e, n = extent["spatial"]["bbox"][0]
        return w <= east and west <= e and s <= north and south <= n

    # where a readable dataset lies, per its README: the dataset collection is found there
    world = catalog.world
    readmes = [
        world.project_by_id[key[1]].files["README.md"].content
        for key in sorted(readable(world, catalog.token("user1")))
        if key[0] == "dataset" and "README.md" in world.project_by_id[key[1]].files
    ]
    located = next(readme for readme in readmes if "  spatial: [" in readme)
    spatial = located.split("  spatial: [", 1)[1].split("]", 1)[0]
    box = [float(v) for v in spatial.split(",")]
    found = ids({"bbox": ",".join(map(str, box))})
    assert "dataset" in found
    assert found == {i for i, c in every.items() if meets(c["extent"], *box)}
    assert ids({"bbox": "-10,-89,10,-85"}) == set()  # no project in Antarctica's interior
    assert ids({"q": "dataset"}) == {"dataset"}
    assert ids({"q": "no-such-word,dataset"}) == {"dataset"}  # any of the terms
    assert ids({"q": "no-such-word"}) == set()
    since = "2026-01-01T00:00:00Z"
    recent = {
        i for i, c in every.items() if (c["extent"]["temporal"]["interval"][0][1] or "") >= since
    }
    assert ids({"datetime": f"{since}/.."}) == recent

    pages, next_url, seen = 0, f"{url}?limit=2", []
    while next_url:
        body = httpx.get(next_url, headers=headers).json()
        assert body["numberMatched"] == len(every) and body["numberReturned"] <= 2
        seen += [c["id"] for c in body["collections"]]
        next_url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
        pages += 1
    assert seen == list(every) and pages == -(-len(every) // 2)

    client = Client.open(catalog.root, headers=headers)
    assert {c.id for c in client.collection_search(q="model").collections()} == {
        i
        for i, c in every.items()
        if "model" in (c["title"] + " " + c["description"]).lower().split()
        or "model" in c["keywords"]
    }
    for query, message in {
        "cloudy=1": "unknown parameter(s): cloudy",
        "bbox=1,2": "bbox must be 4 or 6 numbers",
        "token=abc": "token must be the token of a next link",
        "datetime=yesterday": "datetime",
    }.items():
        response = httpx.get(f"{url}?{query}")
        assert response.status_code == 400, query
        assert message in response.json()["description"], query


@pytest.mark.parametrize("seed", [102, 103, 104])
def test_http_parity_on_more_worlds(
    seed: int, start_api: Callable[..., ApiServer], make_runtime: Callable[..., IndexRuntime]
) -> None:
    world = generate(seed=seed, users=15, groups=10, projects=50)
    world.admin_mode = seed == 103
    with SimulatorServer(world) as sim:
        runtime = indexed(make_runtime, sim)
        root = f"{start_api(runtime.settings).url}{ROOT}"
        usable = [
            t.token
            for t in world.tokens
            if not t.revoked
            and not world.expired(t.expires_at)
            and world.user_by_id[t.user_id].state == "active"
        ]
        with httpx.Client(timeout=30) as client:
            for token in [None, *usable[:10]]:
                client.headers.clear()
                if token:
                    client.headers["PRIVATE-TOKEN"] = token
                got = keys(walk(client, f"{root}/search?limit=9"), world)
                assert got == readable(world, token), f"seed {seed}, token {token and token[-6:]}"


def test_gitlab_unreachable_is_503_never_silently_anonymous(
    start_api: Callable[..., ApiServer], redis_client: object
) -> None:
    api = start_api(make_settings(gitlab_url="http://127.0.0.1:9", gitlab_token="glpat-admin"))
    root = f"{api.url}{ROOT}"
    assert httpx.get(f"{root}/search").status_code == 200  # anonymous needs no GitLab
    refused = httpx.get(f"{root}/search", headers={"PRIVATE-TOKEN": "glpat-some-user"}, timeout=30)
    assert refused.status_code == 503
    assert refused.json() == {
        "code": "upstream_unavailable",
        "description": "gitlab: not reachable",
    }


def test_fields_follow_the_extension_include_exclude_semantics(catalog: Catalog) -> None:
    search = f"{catalog.root}/search"
    with httpx.Client(headers={"PRIVATE-TOKEN": catalog.token("user1")}, timeout=30) as http:

        def first(method: str, fields: Any) -> dict[str, Any]:
            if method == "GET":
                answer = http.get(search, params={"limit": 1, "fields": fields})
            else:
                answer = http.post(search, json={"limit": 1, "fields": fields})
            assert answer.status_code == 200, answer.text
            return dict(answer.json()["features"][0])

        whole = dict(http.get(search, params={"limit": 1}).json()["features"][0])
        assert len(whole["properties"]) > 3
        default = {"type", "stac_version", "id", "collection", "geometry", "bbox", "links",
                   "assets", "properties"}  # fmt: skip
        for method, empty in (("GET", ""), ("POST", {}), ("POST", {"include": None}),
                              ("POST", {"include": [], "exclude": []})):  # fmt: skip
            smallest = first(method, empty)
            assert set(smallest) == default & set(whole), (method, empty)
            assert set(smallest["properties"]) <= {"datetime", "start_datetime", "end_datetime"}
        # only exclusions: the whole item without them
        for method, fields in (("GET", "-geometry,-assets"),
                               ("POST", {"exclude": ["geometry", "assets"]})):  # fmt: skip
            without = first(method, fields)
            assert set(without) == set(whole) - {"geometry", "assets"}
            assert without["properties"] == whole["properties"]
        # an empty include list with exclusions: the default set without them
        trimmed = first("POST", {"include": [], "exclude": ["geometry"]})
        assert set(trimmed) == (default & set(whole)) - {"geometry"}
        # an include inside an excluded object survives; include wins over the same exclude
        for method, fields in (("GET", "-properties,+properties.title"),
                               ("POST", {"include": ["properties.title"],
                                         "exclude": ["properties"]})):  # fmt: skip
            assert first(method, fields)["properties"] == {"title": whole["properties"]["title"]}
        assert "bbox" in first("GET", "+bbox,-bbox")
        # identifying fields stay whatever is excluded
        kept = first("GET", "-id,-links,-properties")
        assert kept["id"] == whole["id"] and kept["links"] and "properties" not in kept
        for bad in (None, ["id"], {"include": "id"}, {"only": ["id"]}, {"include": 5},
                    {"exclude": True}, {"include": [1]}):  # fmt: skip
            refused = http.post(search, json={"fields": bad})
            assert refused.status_code == 400, bad
            assert refused.json()["description"].startswith("fields must be")


def test_sortby_fields_and_free_text_with_pystac_client(catalog: Catalog) -> None:
    world = catalog.world
    client = Client.open(catalog.root, headers={"PRIVATE-TOKEN": catalog.token("user1")})
    for method in ("GET", "POST"):
        by_title = [
            i.properties["title"]
            for i in client.search(
                collections=["ai-model"], sortby="+title", limit=7, method=method
            ).items()
        ]
        assert by_title == sorted(by_title) and len(by_title) > 7
        newest = [
            i.properties["datetime"]
            for i in client.search(
                sortby=[{"field": "properties.datetime", "direction": "desc"}],
                limit=9,
                max_items=40,
                method=method,
            ).items()
        ]
        assert newest == sorted(newest, reverse=True)
    slim = next(
        client.search(
            fields={"include": ["properties.title"], "exclude": ["assets"]}, max_items=1
        ).items_as_dicts()
    )
    assert set(slim) == {"type", "stac_version", "id", "links", "properties"}
    assert set(slim["properties"]) == {"title"}
    everything = readable(world, catalog.token("user1"))
    wanted = {key for key in everything if "flood" in world.project_by_id[key[1]].name.lower()}
    with httpx.Client(headers={"PRIVATE-TOKEN": catalog.token("user1")}, timeout=30) as http:
        found = keys(walk(http, f"{catalog.root}/search?q=flood&limit=7"), world)
        posted = keys(
            walk(http, f"{catalog.root}/search", "POST", {"q": ["flood"], "limit": 7}), world
        )
    assert found == posted
    assert wanted <= found  # titles naming floods; descriptions and keywords may add more
    assert found <= everything
    bad = httpx.get(f"{catalog.root}/search?sortby=-stars")
    assert bad.status_code == 400
    assert bad.json()["description"].startswith("cannot sort by stars; sortable fields:")


def test_cql2_filters_in_text_and_json(catalog: Catalog, opensearch_client: OpenSearch) -> None:
    world = catalog.world
    token = catalog.token("user1")
    client = Client.open(catalog.root, headers={"PRIVATE-TOKEN": token})
    everything = readable(world, token)
    since = "2026-03-01T00:00:00Z"
    wanted = {
        key for key in everything
        if key[0] == "dataset" and world.project_by_id[key[1]].last_activity_at >= since
    }  # fmt: skip
    text = f"collection = 'dataset' AND datetime >= TIMESTAMP('{since}')"
    as_text = client.search(filter=text, filter_lang="cql2-text", max_items=None, limit=9)
    assert wanted and keys([i.to_dict() for i in as_text.items()], world) == wanted
    as_json = client.search(
        filter={"op": "and", "args": [
            {"op": "=", "args": [{"property": "collection"}, "dataset"]},
            {"op": ">=", "args": [{"property": "datetime"}, {"timestamp": since}]},
        ]},
        filter_lang="cql2-json", max_items=None, limit=9,
    )  # fmt: skip
    assert keys([i.to_dict() for i in as_json.items()], world) == wanted
    # both spellings of between seen in the wild: [prop, low, high] and [prop, [low, high]]
    until = {"timestamp": "2100-01-01T00:00:00Z"}
    dated = {"property": "datetime"}
    for args in ([dated, {"timestamp": since}, until], [dated, [{"timestamp": since}, until]]):
        between = {"op": "and", "args": [
            {"op": "=", "args": [{"property": "collection"}, "dataset"]},
            {"op": "between", "args": args},
        ]}  # fmt: skip
        found = client.search(filter=between, max_items=None, limit=9).items()
        assert keys([i.to_dict() for i in found], world) == wanted

    box = [[[-60, -30], [40, -30], [40, 40], [-60, 40], [-60, -30]]]
    polygon = {"type": "Polygon", "coordinates": box}
    spatial = {"op": "s_intersects", "args": [{"property": "geometry"}, polygon]}
    hits = opensearch_client.search(index=catalog.runtime.layout.read_alias, body={
        "size": 10_000,
        "query": {"geo_shape": {"geometry": {"shape": polygon, "relation": "intersects"}}},
    })["hits"]["hits"]  # fmt: skip
    direct = {h["_id"] for h in hits}
    found = {f"{i.collection_id}:{world.project_by_full_path[i.id.lower()].id}"
             for i in client.search(filter=spatial, max_items=None).items()}  # fmt: skip
    assert found == direct and found
    after = client.search(filter=f"t_after(datetime, TIMESTAMP('{since}'))", max_items=None)
    assert {i.properties["datetime"] > since for i in after.items()} == {True}


def front_matter_value(world: World, project_id: int, key: str) -> str | None:
    readme = world.project_by_id[project_id].files.get("README.md")
    found = re.search(rf"^{re.escape(key)}: (\S+)$", readme.content, re.M) if readme else None
    return found.group(1) if found else None


def test_query_extension_with_pystac_client(catalog: Catalog) -> None:
    world = catalog.world
    token = catalog.token("user1")
    client = Client.open(catalog.root, headers={"PRIVATE-TOKEN": token})
    datasets = {key for key in readable(world, token) if key[0] == "dataset"}
    gsd = {key: int(front_matter_value(world, key[1], "gsd") or 0) for key in datasets}
    platform = {key: front_matter_value(world, key[1], "platform") or "" for key in datasets}
    expected = {
        "fine": {k for k in datasets if 0 < gsd[k] <= 20},
        "sentinel-coarse": {k for k in datasets if platform[k].startswith("sentinel-")
                            and gsd[k] > 10},
        "landsat": {k for k in datasets if platform[k] == "landsat-8"},
        "not-2b": {k for k in datasets if platform[k] != "sentinel-2b"},
    }  # fmt: skip
    queries: dict[str, Any] = {
        "fine": {"gsd": {"lte": 20}},
        "sentinel-coarse": {"platform": {"startsWith": "sentinel-"}, "properties.gsd": {"gt": 10}},
        "landsat": {"platform": {"in": ["landsat-8", "spot-7"]}},
        "not-2b": {"platform": {"neq": "sentinel-2b"}},
    }
    for name, query in queries.items():
        assert expected[name], name  # the world has such datasets, so the check means something
        for method in ("GET", "POST"):
            found = client.search(
                collections=["dataset"], query=query, method=method, max_items=None, limit=9
            )
            assert keys(list(found.items_as_dicts()), world) == expected[name], (name, method)


def model_card(world: World, project_id: int) -> dict[str, str]:
    """The MLM block of a generated README, as text values."""
    readme = world.project_by_id[project_id].files.get("README.md")
    block = re.search(r"^mlm:\n((?:  .*\n)+)", readme.content, re.M) if readme else None
    lines = block.group(1).splitlines() if block else []
    return dict(re.findall(r"^  (\w+): (.+)$", "\n".join(lines), re.M))


def test_extension_queryables_are_listed_where_used_and_filter_models(catalog: Catalog) -> None:
    world = catalog.world
    token = catalog.token("user1")
    headers = {"PRIVATE-TOKEN": token}
    models = {key: model_card(world, key[1]) for key in readable(world, token)
              if key[0] == "ai-model"}  # fmt: skip
    models = {key: card for key, card in models.items() if card}
    assert len(models) >= 3, "the world must give this caller models with an MLM block"

    listed = httpx.get(f"{catalog.root}/collections/ai-model/queryables", headers=headers)
    names = set(listed.json()["properties"])
    assert {"mlm:framework", "mlm:tasks", "mlm:total_parameters", "mlm:pretrained"} <= names
    assert listed.json()["properties"]["mlm:total_parameters"]["type"] == "integer"
    datasets = httpx.get(f"{catalog.root}/collections/dataset/queryables", headers=headers)
    assert not {n for n in datasets.json()["properties"] if n.startswith("mlm:")}
    assert (
        "mlm:framework"
        in httpx.get(f"{catalog.root}/queryables", headers=headers).json()["properties"]
    )

    client = Client.open(catalog.root, headers=headers)

    def found(cql2: str | dict[str, Any]) -> set[tuple[str, int]]:
        return keys(list(client.search(filter=cql2, max_items=None, limit=9).items_as_dicts()),
                    world)  # fmt: skip

    onnx_big = {k for k, c in models.items()
                if c["framework"] == "onnx" and int(c["total_parameters"]) >= 4e6}  # fmt: skip
    pretrained = {k for k, c in models.items() if c["pretrained"] == "true"}
    segmenting = {k for k, c in models.items() if "semantic-segmentation" in c["tasks"]}
    assert onnx_big and pretrained and segmenting and pretrained != set(models)
    assert found('"mlm:framework" = \'onnx\' AND "mlm:total_parameters" >= 4000000') == onnx_big
    assert found({"op": "=", "args": [{"property": "mlm:pretrained"}, True]}) == pretrained
    assert found("A_CONTAINS(mlm:tasks, ('semantic-segmentation'))") == segmenting


def test_malformed_filters_are_400_saying_what_is_wrong(catalog: Catalog) -> None:
    root = catalog.root
    cases = {
        "filter=title%20%3D": "filter is not valid CQL2",
        "filter=stars%20%3E%203": "unknown property stars; queryables: id, collection",
        "filter=id%3D'a'&filter-lang=sql": "filter-lang must be cql2-text or cql2-json",
        "filter=id%3D'a'&filter-crs=EPSG:3857": "filter-crs must be",
        "filter=s_crosses(geometry,POINT(1%201))": "the CQL2 operator",
        "query=gsd": "query is not valid JSON",
        "query=%5B1%5D": "query must be an object",
        'query={"gsd":{"near":1}}': "query.gsd: unknown operator near; operators: eq,",
        'query={"stars":{"eq":1}}': "unknown property stars; queryables:",
        'query={"gsd":{"startsWith":"1"}}': "query.gsd.startsWith applies to text",
        'query={"gsd":{"in":[]}}': "query.gsd.in must be a non-empty list",
        'query={"gsd":5}': "query.gsd must be an object of operators",
    }
    for query, message in cases.items():
        response = httpx.get(f"{root}/search?{query}")
        assert response.status_code == 400, query
        assert message in response.json()["description"], query
    short = {"filter": {"op": "between", "args": [{"property": "datetime"}]}}
    response = httpx.post(f"{root}/search", json=short)
    assert response.status_code == 400
    assert "arguments of the wrong shape" in response.json()["description"]
    queryables = httpx.get(f"{root}/queryables")
    assert queryables.headers["content-type"].startswith("application/schema+json")
    names = set(queryables.json()["properties"])
    assert {"datetime", "geometry", "collection", "title", "keywords"} <= names
    assert not any(name.startswith("_") for name in names)
    assert httpx.get(f"{root}/collections/dataset/queryables").status_code == 200
    assert httpx.get(f"{root}/collections/nope/queryables").status_code == 404
