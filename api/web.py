"""The web catalog: STAC Browser (built by scripts/web.sh) at /, and the ``/config.js`` it
loads, written per request: the catalog's address as this request reaches labstac (STAC
Browser needs it to equal the landing page's ``self`` link), and in its footer, a link to
sign in with GitLab, or the signed-in user's sign-out link. A private item opened while
signed out is the same 404 as a missing one (existence stays hidden): the footer's sign-in
link is how the page invites a sign-in."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from api.auth import session_of
from api.errors import error_response
from api.stac_links import site_base, stac_base

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"


async def config_js(request: Request) -> Response:
    settings = request.app.state.settings
    site = site_base(request)
    footer = []
    session = await session_of(request)
    if session is not None:
        footer.append({"label": f"Sign out ({session.username})", "url": f"{site}/auth/logout"})
    elif settings.oauth_client_id:
        footer.append({"label": "Sign in with GitLab", "url": f"{site}/auth/login"})
    config = {
        "catalogUrl": stac_base(request),
        "catalogTitle": "labstac",
        "allowExternalAccess": False,
        "footerLinks": footer,
        "defaultThumbnailSize": [200, 200],
    }
    body = f"window.STAC_BROWSER_CONFIG = {json.dumps(config)};\n"
    return Response(body, media_type="application/javascript",
                    headers={"Cache-Control": "no-store"})  # fmt: skip


class WebCatalog:
    """STAC Browser's files, or, when they were not built, a JSON answer saying how."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory or DEFAULT_DIR
        self.files: StaticFiles | None = None
        if (self.directory / "index.html").is_file():
            self.files = StaticFiles(directory=self.directory, html=True)
        else:
            log.warning("no web catalog to serve at /", extra={"looked_in": str(self.directory)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.files is not None:
            await self.files(scope, receive, send)
            return
        response = error_response(
            404, "not_found",
            "the web catalog is not built here (run scripts/web.sh build); the STAC API "
            "is under /api/v1/stac (or LABSTAC_STAC_ROOT)",
        )  # fmt: skip
        await response(scope, receive, send)
