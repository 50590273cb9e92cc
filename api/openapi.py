"""The OpenAPI 3.0 document of the STAC API, made from the endpoint table and the parameter
table the API itself runs on (so it cannot drift from the code), and a browsable page of it."""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.json_response import JSONResponse
from api.stac_links import OPENAPI, stac_base
from api.stac_params import PARAMETERS
from api.stac_routes import ENDPOINTS

ERROR = {
    "description": "An error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _parameter(name: str) -> dict[str, Any]:
    spec = PARAMETERS[name]
    parameter: dict[str, Any] = {
        "name": name,
        "in": "query",
        "required": False,
        "description": spec.description,
        "schema": spec.schema,
    }
    if spec.style_form_explode_false:
        parameter.update(style="form", explode=False)
    if name == "intersects":
        parameter["content"] = {"application/json": {"schema": {"type": "object"}}}
        del parameter["schema"]
    return parameter


def document(base: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        path = endpoint.path.replace(":path}", "}")
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": endpoint.method.lower()
            + path.replace("/", "_").replace("{", "").replace("}", ""),
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in endpoint.path_parameters
            ] + [_parameter(p) for p in endpoint.parameters],
            "responses": {
                "200": {"description": "Success",
                        "content": {endpoint.response: {"schema": {"type": "object"}}}},
                "400": ERROR, "401": ERROR, "404": ERROR, "429": ERROR, "503": ERROR,
            },
        }  # fmt: skip
        if endpoint.method == "POST":
            operation["responses"]["413"] = ERROR
            operation["requestBody"] = {
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {name: spec.body_schema or spec.schema
                                   for name, spec in PARAMETERS.items()},
                }}}
            }  # fmt: skip
        if "item_id" in endpoint.path_parameters:
            operation["responses"]["308"] = {"description": "The project moved: its new URL"}
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "labstac STAC API", "version": "1.0.0",
                 "description": "GitLab projects as a STAC catalog, filtered by what the caller "
                 "may read. Send a GitLab token as Authorization: Bearer, PRIVATE-TOKEN or "
                 "X-Gitlab-Token."},
        "servers": [{"url": base}],
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["code", "description"],
                                  "properties": {"code": {"type": "string"},
                                                 "description": {"type": "string"}}}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "privateToken": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
            },
        },
        "security": [{}, {"bearer": []}, {"privateToken": []}],
    }  # fmt: skip


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document(stac_base(request)), media_type=OPENAPI)


async def openapi_html(request: Request) -> Response:
    spec = document(stac_base(request))
    rows = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            parameters = "".join(
                f"<li><code>{html.escape(p['name'])}</code> ({p['in']}): "
                f"{html.escape(p.get('description', ''))}</li>"
                for p in operation["parameters"]
            )
            rows.append(
                f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                f"<p>{html.escape(operation['summary'])}</p><ul>{parameters}</ul>"
            )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>labstac STAC API</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}</style></head>"
        f"<body><h1>labstac STAC API</h1><p>{html.escape(spec['info']['description'])}</p>"
        # A relative link: nothing a request says can make it point elsewhere.
        "<p>Machine-readable: <a href='api'>OpenAPI 3.0 document</a>.</p>"
        f"{''.join(rows)}</body></html>"
    )
    # Inline styles only; no script, frame or plugin can run in this page.
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})
