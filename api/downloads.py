"""The download proxy: an item's repository files (Git LFS objects resolved) and release
archives, fetched from GitLab with the caller's own GitLab credentials (a token header or
the sign-in session) and streamed through, so browsers, GDAL/QGIS and scripts that hold
only a labstac session or token can read what GitLab lets them read.

    GET|HEAD /download/projects/{id}/files/{path}?ref=<ref>
    GET|HEAD /download/projects/{id}/archive.{zip|tar.gz|tar.bz2|tar}?sha=<ref>

GitLab stays the judge of access; labstac answers 404 first, without calling GitLab, for a
project the caller may not see in the catalog. Bodies are streamed chunk by chunk (memory
stays flat for a multi-gigabyte object); Range, conditional requests, ETag, Last-Modified
and Content-Disposition pass through; a client that goes away closes the upstream
connection. Tokens travel in the upstream request's headers only.

Item asset hrefs point here when ``LABSTAC_ASSET_HREFS=proxy`` (the default): stored items
keep GitLab's URLs, and ``proxied`` rewrites them per response, so the setting needs no
reindex.
"""

from __future__ import annotations

import logging
import posixpath
import re
from typing import Any
from urllib.parse import quote, unquote

import httpx
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.auth import access_of, caller_token
from indexer.errors import Invalid, NotFound, UpstreamUnavailable
from indexer.search.request import project_body

log = logging.getLogger(__name__)

ARCHIVE_FORMATS = ("zip", "tar.gz", "tar.bz2", "tar")
FORWARDED_REQUEST = ("range", "if-range", "if-none-match", "if-modified-since")
FORWARDED_RESPONSE = (
    "content-type", "content-length", "content-range", "accept-ranges", "etag",
    "last-modified", "content-disposition",
)  # fmt: skip
# Served under labstac's origin, a file must never run as a page of it: no sniffing, and a
# sandbox that keeps any HTML or SVG away from labstac's cookies and scripts.
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"}
# What one caller's credentials fetched is not for a shared cache.
PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
INLINE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")
IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
               "webp": "image/webp", "svg": "image/svg+xml"}  # fmt: skip


def downloads_client(timeout_seconds: float) -> httpx.AsyncClient:
    # No overall deadline: a large object takes as long as it takes; each read may not.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds, read=60.0),
        follow_redirects=False,
        headers={"User-Agent": "labstac"},
    )


async def _visible(request: Request, project_id: int) -> None:
    body = {**project_body(str(project_id), await access_of(request)), "size": 1,
            "_source": False}  # fmt: skip
    result = await request.app.state.engine.search(request.app.state.read_alias, body)
    if not result["hits"]["hits"]:
        raise NotFound(f"no project {project_id}")


def _project_id(request: Request) -> int:
    raw = str(request.path_params["project_id"])
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise NotFound("no such project")
    return int(raw)


async def download_file(request: Request) -> Response:
    project_id = _project_id(request)
    path = request.path_params["file_path"].strip("/")
    if not path or len(path) > 4096 or any(part in (".", "..") for part in path.split("/")):
        raise Invalid("name a file of the repository")
    await _visible(request, project_id)
    ref = request.query_params.get("ref") or "HEAD"
    upstream = f"/projects/{project_id}/repository/files/{quote(path, safe='')}/raw"
    return await _relay(request, upstream, {"ref": ref, "lfs": "true"}, posixpath.basename(path))


async def download_archive(request: Request) -> Response:
    project_id = _project_id(request)
    fmt = request.path_params["format"]
    if fmt not in ARCHIVE_FORMATS:
        raise NotFound(f"archives are {', '.join(ARCHIVE_FORMATS)}")
    await _visible(request, project_id)
    params = {"sha": request.query_params["sha"]} if request.query_params.get("sha") else {}
    return await _relay(request, f"/projects/{project_id}/repository/archive.{fmt}", params, None)


async def _relay(
    request: Request, path: str, params: dict[str, str], file_name: str | None
) -> Response:
    settings = request.app.state.settings
    client: httpx.AsyncClient = request.app.state.downloads
    headers = {
        k: v for k, v in request.headers.items()
        if k.lower() in FORWARDED_REQUEST and v.isascii() and v.isprintable()
    }  # fmt: skip
    # Bytes as stored: a compressed answer would be passed on without its encoding, and
    # ranges would count compressed bytes.
    headers["Accept-Encoding"] = "identity"
    token = await caller_token(request)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    gitlab = str(settings.gitlab_url).rstrip("/")
    upstream = client.build_request(
        request.method, f"{gitlab}/api/v4{path}", params=params, headers=headers
    )
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.HTTPError as error:
        raise UpstreamUnavailable("gitlab", f"not reachable ({type(error).__name__})") from None
    if answer.status_code in (301, 302, 303, 307, 308):
        # GitLab with object storage sends LFS objects as a redirect to a signed URL of
        # the store: the client follows it itself, without any GitLab credential.
        await answer.aclose()
        location = answer.headers.get("location", "")
        if not location.startswith(("https://", "http://")) or location.startswith(gitlab + "/"):
            raise UpstreamUnavailable("gitlab", "answered a redirect labstac cannot pass on")
        return Response(status_code=302, headers={"Location": location, **PRIVATE})
    if answer.status_code in (401, 403, 404):
        await answer.aclose()  # GitLab's judgement; existence stays hidden
        raise NotFound("no such file, or GitLab does not let you read it")
    if answer.status_code not in (200, 206, 304, 416):
        await answer.aclose()
        raise UpstreamUnavailable("gitlab", f"answered {answer.status_code}")
    kept = {k: v for k, v in answer.headers.items() if k.lower() in FORWARDED_RESPONSE}
    kept = _disposition(kept, file_name)
    kept.update(SAFE_HEADERS)
    if token:
        kept.update(PRIVATE)
    if request.method == "HEAD" or answer.status_code in (304, 416):
        await answer.aclose()
        return Response(status_code=answer.status_code, headers=kept)
    return _Relayed(answer, kept)


class _Relayed(StreamingResponse):
    """GitLab's body, passed on chunk by chunk; the upstream answer is closed however the
    response ends (done, failed, or the client gone, even before the first chunk)."""

    def __init__(self, answer: httpx.Response, headers: dict[str, str]) -> None:
        super().__init__(answer.aiter_raw(), status_code=answer.status_code, headers=headers)
        self._answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._answer.aclose()


def _disposition(headers: dict[str, str], file_name: str | None) -> dict[str, str]:
    """Images inline (thumbnails), everything else as an attachment with its file name."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    name = file_name or _name_of(headers.get("content-disposition", ""))
    extension = (file_name or "").rsplit(".", 1)[-1].lower()
    if kind in INLINE_TYPES or extension in IMAGE_TYPES:
        headers["content-disposition"] = "inline" + (_file_name_params(name) if name else "")
        if kind not in INLINE_TYPES and name:
            headers["content-type"] = _image_type(name)
    else:
        headers["content-disposition"] = "attachment" + (_file_name_params(name) if name else "")
    return headers


def _name_of(disposition: str) -> str | None:
    found = re.search(r'filename="?([^";]+)"?', disposition)
    return found.group(1) if found else None


def _file_name_params(name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200]
    return f"; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name[:200], safe='')}"


def _image_type(name: str) -> str:
    return IMAGE_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


# ------------------------------------------------------------- hrefs of items

_FILE = re.compile(r"^/api/v4/projects/(\d+)/repository/files/([^/?#]+)/raw\?(.*)$")
_ARCHIVE = re.compile(
    r"^/api/v4/projects/(\d+)/repository/archive\.(zip|tar\.gz|tar\.bz2|tar)(\?.*)?$"
)


def proxied(item: dict[str, Any], gitlab_url: str, site: str) -> dict[str, Any]:
    """The item with its GitLab file and archive hrefs (assets, preview links) pointing at
    this proxy."""

    def rewrite(href: Any) -> Any:
        if not isinstance(href, str) or not href.startswith(gitlab_url + "/api/v4/"):
            return href
        tail = href[len(gitlab_url) :]
        found = _FILE.match(tail)
        if found:
            project_id, path, query = found.groups()
            ref = re.search(r"(?:^|&)ref=([^&]*)", query)
            suffix = f"?ref={ref.group(1)}" if ref else ""
            file_path = quote(unquote(path), safe="/")
            return f"{site}/download/projects/{project_id}/files/{file_path}{suffix}"
        found = _ARCHIVE.match(tail)
        if found:
            project_id, fmt, query = found.groups()
            return f"{site}/download/projects/{project_id}/archive.{fmt}{query or ''}"
        return href

    assets = {key: {**asset, "href": rewrite(asset.get("href"))} if isinstance(asset, dict)
              else asset for key, asset in (item.get("assets") or {}).items()}  # fmt: skip
    links = [{**link, "href": rewrite(link.get("href"))} if isinstance(link, dict) else link
             for link in item.get("links", [])]  # fmt: skip
    return {**item, "assets": assets, "links": links,
            "properties": _description_images(item, links, site)}  # fmt: skip


def _description_images(item: dict[str, Any], links: list[Any], site: str) -> dict[str, Any]:
    """The README's images in the description (GitLab's web ``-/raw/<branch>/<path>``
    URLs, which a browser signed out of GitLab cannot read for a private project) through
    this proxy too."""
    properties = item.get("properties")
    if not isinstance(properties, dict):
        return properties  # type: ignore[return-value]
    text, project_id = properties.get("description"), properties.get("sharinghub:id")
    branch = properties.get("sharinghub:default-branch")
    web = next((ln.get("href") for ln in links
                if isinstance(ln, dict) and ln.get("rel") == "via"), None)  # fmt: skip
    if not (isinstance(text, str) and isinstance(web, str) and isinstance(project_id, int)
            and isinstance(branch, str)):  # fmt: skip
        return properties
    prefix = f"{web}/-/raw/{quote(branch, safe='')}/"
    if prefix not in text:
        return properties
    files = f"{site}/download/projects/{project_id}/files/"
    ref = f"?ref={quote(branch, safe='')}"
    found = re.compile(re.escape(prefix) + r"([^\s()<>\"']+)")
    return {**properties, "description": found.sub(lambda m: f"{files}{m.group(1)}{ref}", text)}
