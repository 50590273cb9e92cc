"""JSON responses encoded by orjson: the same bytes as Starlette's JSONResponse (compact,
UTF-8, no NaN), several times faster for the item pages the API answers."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
