"""Serve the single-page app; slaves with FRONTEND_BASE_URL redirect pages instead."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, redirect, request, send_file
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from oneapi.state import app_state

PLACEHOLDER = Path(__file__).parent / "placeholder"
ONE_WEEK = 604800

blueprint = Blueprint("web", __name__)


def is_api_path(path: str) -> bool:
    return path in ("/v1", "/api", "/metrics") or path.startswith(("/v1/", "/api/"))


def web_root(configured: str) -> Path:
    if configured:
        return Path(configured)
    built = Path(__file__).resolve().parents[2] / "frontend" / "dist"
    return built if (built / "index.html").is_file() else PLACEHOLDER


def _existing_file(root: Path, path: str) -> Path | None:
    """The file `path` names under `root`, if it exists (never outside `root`)."""
    joined = safe_join(str(root), path) if path else None
    return Path(joined) if joined is not None and Path(joined).is_file() else None


@blueprint.get("/", defaults={"path": ""})
@blueprint.get("/<path:path>")
async def page(path: str) -> Response:
    if is_api_path("/" + path):
        raise NotFound()
    state = app_state()
    base = state.settings.frontend_base_url.rstrip("/")
    if base and not state.settings.is_master:
        target = base + request.full_path.rstrip("?")
        return redirect(target, 301)  # type: ignore[return-value]
    root = web_root(state.settings.frontend_dir)
    file = _existing_file(root, path)
    if file is not None:
        response = await send_file(file)
        response.cache_control.max_age = ONE_WEEK
        return response
    if path and "." in path.rsplit("/", 1)[-1]:
        raise NotFound()  # a missing asset, not a client-side route
    try:
        response = await send_file(root / "index.html")
    except FileNotFoundError:  # frontend/dist removed or being rebuilt under us
        response = await send_file(PLACEHOLDER / "index.html")
    response.cache_control.no_cache = True
    return response
