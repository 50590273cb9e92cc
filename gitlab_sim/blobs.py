"""File contents as GitLab's raw file endpoint sends them (through Workhorse): whole, or one
byte range (``Range: bytes=a-b``, 206 with ``Content-Range``; 416 past the end), with an
``ETag`` that ``If-None-Match`` answers with 304, streamed a chunk at a time. A large LFS
object (``RepoFile.lfs_size``) is made up as it is sent, the same bytes every time, so a
gigabyte never sits in memory and a test can compute what it should receive."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Iterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gitlab_sim.world import RepoFile

BLOCK = 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _block(path: str, index: int) -> bytes:
    seed = hashlib.sha256(f"{path}:{index}".encode()).digest()
    return (seed * (BLOCK // len(seed) + 1))[:BLOCK]


def generated_bytes(path: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start`` to ``end`` (exclusive) of the made-up object at ``path``."""
    position = start
    while position < end:
        index, offset = divmod(position, BLOCK)
        chunk = _block(path, index)[offset : offset + (end - position)]
        yield chunk
        position += len(chunk)


def object_size(file: RepoFile, lfs: bool) -> int:
    if lfs and file.lfs_size is not None:
        return file.lfs_size
    return len(_small_body(file, lfs))


def _small_body(file: RepoFile, lfs: bool) -> bytes:
    if lfs and file.lfs_content is not None:
        return file.lfs_content.encode()
    return file.data


def _chunks(file: RepoFile, lfs: bool, start: int, end: int) -> Iterator[bytes]:
    if lfs and file.lfs_size is not None:
        yield from generated_bytes(file.path, start, end)
    else:
        yield _small_body(file, lfs)[start:end]


def etag(file: RepoFile, lfs: bool) -> str:
    if lfs and file.lfs_size is not None:
        material = f"{file.path}:{file.lfs_size}".encode()
    else:
        material = _small_body(file, lfs)
    return f'"{hashlib.sha256(material).hexdigest()[:32]}"'


def raw_response(
    request: Request, file: RepoFile, lfs: bool, headers: dict[str, str], media_type: str
) -> Response:
    size = object_size(file, lfs)
    tag = etag(file, lfs)
    headers = {**headers, "ETag": tag, "Accept-Ranges": "bytes"}
    if lfs and file.is_lfs:
        name = file.path.rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        media_type = "application/octet-stream"
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    start, end, status = 0, size, 200
    wanted = request.headers.get("range")
    if wanted and request.headers.get("if-range", tag) == tag:
        found = _RANGE.match(wanted.strip())
        if found and (found.group(1) or found.group(2)):
            first, last = found.group(1), found.group(2)
            if first:
                start, end = int(first), min(int(last) + 1, size) if last else size
            else:
                start, end = max(size - int(last), 0), size
            if start >= size or start >= end:
                return Response(
                    status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"}
                )
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)

    async def body() -> AsyncIterator[bytes]:
        for chunk in _chunks(file, lfs, start, end):
            yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=media_type)
