"""/api routes: runtime options (root) and the group list (admin) - spec 1.5.7, 8."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from oneapi.admin import invalidate
from oneapi.admin.api import api_route
from oneapi.admin.auth import ROLE_ADMIN, ROLE_ROOT
from oneapi.admin.options_schemas import OptionUpdate, OptionValueError, normalise
from oneapi.errors import ApiError
from oneapi.options import Options
from oneapi.state import app_state
from oneapi.store.options import reload_options, save_option

blueprint = Blueprint("options", __name__, url_prefix="/api")

# Options that must never be read back: credentials.
HIDDEN_EXACT = frozenset({"TurnstileSecretKey"})

# Turning these on needs another option first (the reference's messages).
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "GitHubOAuthEnabled": (
        "GitHubClientId",
        "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"),
    "EmailDomainRestrictionEnabled": (
        "EmailDomainWhitelist", "无法启用邮箱域名限制，请先填入限制的邮箱域名！"),
    "WeChatAuthEnabled": (
        "WeChatServerAddress", "无法启用微信登录，请先填入微信登录相关配置信息！"),
    "TurnstileCheckEnabled": (
        "TurnstileSiteKey", "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"),
}


def is_hidden(key: str) -> bool:
    return key.endswith(("Token", "Secret")) or key in HIDDEN_EXACT


def _check_requirements(key: str, value: str, options: Options) -> None:
    needed = REQUIREMENTS.get(key)
    if needed is None or value != "true":
        return
    other, message = needed
    present = options.get(other).strip()
    if key == "EmailDomainRestrictionEnabled":
        present = ",".join(d for d in present.split(",") if d.strip())
    if not present:
        raise ApiError(message)


@api_route(blueprint, "/option", ["GET"], role=ROLE_ROOT,
           summary="Every option as {key, value}, credentials left out")
async def get_options() -> Any:
    options = app_state().options
    return [{"key": key, "value": value} for key, value in sorted(options.items())
            if not is_hidden(key)]


@api_route(blueprint, "/option", ["PUT"], role=ROLE_ROOT, body=OptionUpdate,
           summary="Set one option (validated before it is saved)")
async def update_option(body: dict[str, Any]) -> Any:
    state = app_state()
    key: str = body["key"]
    try:
        value = normalise(key, body["value"])
    except OptionValueError as exc:
        raise ApiError(str(exc)) from None
    _check_requirements(key, value, state.options)
    await save_option(state.database, key, value)
    await reload_options(state.database, state.options)
    invalidate.options_changed()
    return None


@api_route(blueprint, "/group", ["GET"], role=ROLE_ADMIN,
           summary="Group names (the keys of GroupRatio)")
async def get_groups() -> Any:
    return list(app_state().options.group_ratios)
