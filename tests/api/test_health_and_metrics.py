"""The API under uvicorn: liveness, readiness that follows its backends, Prometheus metrics,
request ids, JSON error bodies and one JSON log line per request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import OPENSEARCH_URL, ApiServer, free_port, make_settings, wait_until
from tcp_proxy import TcpProxy, proxy_to

pytestmark = pytest.mark.services

StartApi = Callable[..., ApiServer]


@pytest.fixture
def api(start_api: StartApi) -> ApiServer:
    return start_api(make_settings())


@pytest.fixture
def opensearch_proxy() -> Iterator[TcpProxy]:
    with proxy_to(OPENSEARCH_URL, 9200) as proxy:
        yield proxy


def test_healthz_answers(api: ApiServer) -> None:
    response = httpx.get(f"{api.url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_with_both_backends_up(api: ApiServer) -> None:
    response = httpx.get(f"{api.url}/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["opensearch"]["ok"] is True
    assert body["checks"]["opensearch"]["version"].startswith("3.")


def test_readyz_follows_opensearch_down_and_back(
    start_api: StartApi, opensearch_proxy: TcpProxy
) -> None:
    api = start_api(make_settings(opensearch_url=f"http://127.0.0.1:{opensearch_proxy.port}"))
    assert httpx.get(f"{api.url}/readyz").status_code == 200

    opensearch_proxy.stop()
    down = httpx.get(f"{api.url}/readyz", timeout=30)
    assert down.status_code == 503
    body = down.json()
    assert body["code"] == "not_ready"
    assert body["description"] == "opensearch: not reachable"
    assert body["checks"]["redis"] == {"ok": True}
    assert down.headers["retry-after"] == "5"

    opensearch_proxy.start()
    assert httpx.get(f"{api.url}/readyz", timeout=30).status_code == 200


def test_readyz_names_redis_when_it_is_down(start_api: StartApi) -> None:
    api = start_api(make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    response = httpx.get(f"{api.url}/readyz", timeout=30)
    assert response.status_code == 503
    assert response.json()["description"] == "redis: not reachable"
    assert response.json()["checks"]["opensearch"]["ok"] is True


def test_unknown_route_and_wrong_method_get_json_errors(api: ApiServer) -> None:
    missing = httpx.get(f"{api.url}/no/such/thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    assert missing.json() == {"code": "not_found", "description": "no route matches /no/such/thing"}

    wrong_method = httpx.post(f"{api.url}/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["allow"]


def sample(metrics_text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for point in family.samples:
            if point.name == name and point.labels == labels:
                return float(point.value)
    return 0.0


def test_metrics_count_requests_by_route_template_and_status(api: ApiServer) -> None:
    healthz_ok = {"method": "GET", "route": "/healthz", "status": "200"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = httpx.get(f"{api.url}/metrics").text
    for _ in range(3):
        httpx.get(f"{api.url}/healthz")
    httpx.get(f"{api.url}/no/such/thing")
    httpx.get(f"{api.url}/another/missing/path")

    response = httpx.get(f"{api.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text

    def grew(name: str, labels: dict[str, str]) -> float:
        return sample(after, name, labels) - sample(before, name, labels)

    assert grew("labstac_http_requests_total", healthz_ok) == 3
    # Unknown paths share one label, so a scanner cannot blow up the series count.
    assert grew("labstac_http_requests_total", unmatched) == 2
    assert (
        grew("labstac_http_request_duration_seconds_count", {"method": "GET", "route": "/healthz"})
        == 3
    )
    assert "/no/such/thing" not in after


def test_request_id_is_echoed_and_logged_without_the_query(api: ApiServer) -> None:
    given = httpx.get(
        f"{api.url}/healthz?private_token=glpat-must-not-leak",
        headers={"X-Request-ID": "trace-abc.123"},
    )
    assert given.headers["x-request-id"] == "trace-abc.123"

    made_up = httpx.get(f"{api.url}/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made_up.headers["x-request-id"] != "bad id\twith spaces"
    assert len(made_up.headers["x-request-id"]) == 32

    wait_until(lambda: "trace-abc.123" in api.log(), 10, "the access log line")
    lines = [json.loads(line) for line in api.log().splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "trace-abc.123"]
    assert len(access) == 1
    assert access[0]["path"] == "/healthz"
    assert access[0]["status"] == 200
    assert access[0]["route"] == "/healthz"
    assert "glpat-must-not-leak" not in api.log()
