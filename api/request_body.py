"""Request bodies, read within a size limit: a declared length above it is refused before
a byte is read, and a body that streams past it is cut off there (413), so memory never
holds more than the limit, whatever the client claims."""

from __future__ import annotations

import re

from starlette.requests import Request

from indexer.errors import Invalid, TooLarge

_LENGTH = re.compile(r"^[0-9]{1,19}$")  # ASCII digits: "²".isdigit() is true


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not _LENGTH.match(declared):
            raise Invalid("Content-Length must be a number of bytes")
        if int(declared) > limit:
            raise TooLarge(f"request bodies are limited to {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request bodies are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
