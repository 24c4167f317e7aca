"""The dashboard: the built ``frontend/dist`` served at ``/`` as a single-page app.

Hashed files under ``/assets/`` never change their content, so browsers may keep them for a
year; everything else (``index.html`` above all) is revalidated on each load, so a new build
reaches people on their next visit. Any other path that names no file gets ``index.html``
and the client router decides; paths the API and the doors own keep their own 404s.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "ASSET_CACHE_CONTROL",
    "DOCUMENT_CACHE_CONTROL",
    "RESERVED_PREFIXES",
    "DashboardFiles",
    "NotBuiltPage",
    "dashboard_app",
]

ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
DOCUMENT_CACHE_CONTROL = "no-cache"
# First path segments that belong to the API, the doors and the docs, never to the client.
RESERVED_PREFIXES = frozenset(
    {"api", "ws", "docs", "redoc", "openapi.json", "healthz", "metrics", "static-offline-docs"}
)

log = structlog.get_logger(__name__)


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


class DashboardFiles(StaticFiles):
    """Serve a Vite build with SPA fallback and cache headers fit for hashed assets."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        if _first_segment(path) in RESERVED_PREFIXES:
            raise HTTPException(status_code=404)
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or _looks_like_a_file(path):
                raise
            response = await super().get_response("index.html", scope)
        cached = path.startswith("assets/") and response.status_code in (200, 304)
        response.headers["Cache-Control"] = (
            ASSET_CACHE_CONTROL if cached else DOCUMENT_CACHE_CONTROL
        )
        return response


def _looks_like_a_file(path: str) -> bool:
    """``/assets/app-1a2b.js`` or ``/favicon.ico``: a missing file stays a 404."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "." in last


class NotBuiltPage:
    """Answers every dashboard path with 503 and how to build it, when there is no build."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _first_segment(scope["path"]) in RESERVED_PREFIXES:
            raise HTTPException(status_code=404)
        await self.response()(scope, receive, send)

    def response(self) -> Response:
        body = (
            "<!doctype html><title>revlink: dashboard not built</title>"
            "<h1>The dashboard is not built</h1>"
            f"<p>No <code>index.html</code> in <code>{self.directory}</code>. Run "
            "<code>make install</code> (it builds <code>frontend/</code>), or set "
            "<code>REVLINK_DASHBOARD_DIR</code> to a build. The API is at "
            '<a href="/docs">/docs</a>.</p>'
        )
        return HTMLResponse(body, status_code=503, headers={"Cache-Control": "no-store"})


def dashboard_app(directory: Path) -> ASGIApp:
    """The build in ``directory``, or a page saying how to make one when it holds none."""
    if (directory / "index.html").is_file():
        return DashboardFiles(directory)
    log.warning("dashboard_not_built", directory=str(directory))
    return NotBuiltPage(directory)
