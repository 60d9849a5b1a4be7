"""The employee self-service portal: ``/`` and its static files under ``/web/``.

Plain HTML, ES modules and CSS shipped inside the package (``api/web``); no build step, no CDN.
Only flat file names of the known types are served, straight from that folder, so no request
can reach anything else. The strict Content-Security-Policy comes from
``api.security_headers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from models.errors import NotFound

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# revalidate on every load (ETag / Last-Modified make that cheap): an upgrade is seen at once
_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(tags=["portal"])


def web_file(name: str) -> FileResponse:
    """A file of the portal folder, or ``NotFound``."""
    path = WEB_DIR / name
    media_type = MEDIA_TYPES.get(path.suffix)
    if media_type is None or path.parent != WEB_DIR or not path.is_file():
        raise NotFound(f"no portal file {name}")
    return FileResponse(path, media_type=media_type, headers=_CACHE)


@router.get("/", include_in_schema=False)
async def portal() -> FileResponse:
    return web_file("index.html")


@router.get("/web/{name}", include_in_schema=False)
async def portal_file(
    name: Annotated[str, PathParam(pattern=r"^[a-z0-9][a-z0-9_-]*\.[a-z]+$", max_length=80)],
) -> FileResponse:
    return web_file(name)
