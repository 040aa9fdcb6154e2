"""Public system routes: status, notice, about, home page content (spec 1.5.1)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from oneapi import __version__
from oneapi.admin.api import api_route
from oneapi.state import app_state

blueprint = Blueprint("system", __name__, url_prefix="/api")


@api_route(blueprint, "/status", ["GET"], role=None,
           summary="Public settings the web UI needs (version, login methods, links)")
async def status() -> dict[str, Any]:
    state = app_state()
    o = state.options
    return {
        "version": f"v{__version__}",
        "start_time": state.start_time,
        "email_verification": o.bool("EmailVerificationEnabled"),
        "github_oauth": o.bool("GitHubOAuthEnabled"),
        "github_client_id": o.get("GitHubClientId"),
        "lark_client_id": o.get("LarkClientId"),
        "system_name": o.get("SystemName"),
        "logo": o.get("Logo"),
        "footer_html": o.get("Footer"),
        "wechat_qrcode": o.get("WeChatAccountQRCodeImageURL"),
        "wechat_login": o.bool("WeChatAuthEnabled"),
        "server_address": o.server_address,
        "turnstile_check": o.bool("TurnstileCheckEnabled"),
        "turnstile_site_key": o.get("TurnstileSiteKey"),
        "top_up_link": o.get("TopUpLink"),
        "chat_link": o.get("ChatLink"),
        "quota_per_unit": o.float("QuotaPerUnit"),
        "display_in_currency": o.bool("DisplayInCurrencyEnabled"),
        "oidc": o.bool("OidcEnabled"),
        "oidc_client_id": o.get("OidcClientId"),
        "oidc_well_known": o.get("OidcWellKnown"),
        "oidc_authorization_endpoint": o.get("OidcAuthorizationEndpoint"),
        "oidc_token_endpoint": o.get("OidcTokenEndpoint"),
        "oidc_userinfo_endpoint": o.get("OidcUserinfoEndpoint"),
    }


@api_route(blueprint, "/notice", ["GET"], role=None, summary="The notice (Markdown)")
async def notice() -> str:
    return app_state().options.get("Notice")


@api_route(blueprint, "/about", ["GET"], role=None,
           summary="The about page (Markdown, HTML or a URL)")
async def about() -> str:
    return app_state().options.get("About")


@api_route(blueprint, "/home_page_content", ["GET"], role=None,
           summary="The home page content (Markdown, HTML or a URL)")
async def home_page_content() -> str:
    return app_state().options.get("HomePageContent")
