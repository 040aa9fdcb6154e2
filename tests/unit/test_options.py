"""Option defaults (spec section 8) and the overlay of stored rows."""

from __future__ import annotations

import orjson
import pytest

from oneapi.billing.ratio_defaults import DEFAULT_MODEL_RATIO
from oneapi.options import Options, default_options

SPEC_KEYS = {
    "PasswordLoginEnabled": "true", "PasswordRegisterEnabled": "true",
    "EmailVerificationEnabled": "false", "GitHubOAuthEnabled": "false", "OidcEnabled": "false",
    "WeChatAuthEnabled": "false", "TurnstileCheckEnabled": "false", "RegisterEnabled": "true",
    "EmailDomainRestrictionEnabled": "false", "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false", "ApproximateTokenEnabled": "false",
    "LogConsumeEnabled": "true", "DisplayInCurrencyEnabled": "true",
    "DisplayTokenStatEnabled": "true", "ChannelDisableThreshold": "5", "SMTPPort": "587",
    "SystemName": "One API", "QuotaForNewUser": "0", "QuotaForInviter": "0",
    "QuotaForInvitee": "0", "QuotaRemindThreshold": "1000", "PreConsumedQuota": "500",
    "QuotaPerUnit": "500000", "RetryTimes": "0", "Theme": "default", "ServerAddress": "",
    "TopUpLink": "", "ChatLink": "", "Notice": "", "About": "", "HomePageContent": "",
    "Footer": "", "Logo": "", "SMTPToken": "", "GitHubClientSecret": "",
    "TurnstileSecretKey": "", "MessagePusherToken": "", "WeChatServerToken": "",
}


def test_defaults_match_the_reference() -> None:
    values = default_options()
    for key, want in SPEC_KEYS.items():
        assert values[key] == want, key
    assert values["EmailDomainWhitelist"].split(",")[:3] == ["gmail.com", "163.com", "126.com"]
    assert orjson.loads(values["GroupRatio"]) == {"default": 1, "vip": 1, "svip": 1}
    model_ratio = orjson.loads(values["ModelRatio"])
    assert len(model_ratio) == len(DEFAULT_MODEL_RATIO) and model_ratio["gpt-4"] == 15
    assert orjson.loads(values["CompletionRatio"])["deepseek-chat"] == 2


def test_theme_default_comes_from_the_environment() -> None:
    assert default_options("berry")["Theme"] == "berry"


def test_rows_overlay_defaults_and_typed_access() -> None:
    options = Options(default_options())
    options.apply({"QuotaPerUnit": "1000", "RegisterEnabled": "false", "Notice": "hi",
                   "RetryTimes": "3"})
    assert options.float("QuotaPerUnit") == 1000.0
    assert options.bool("RegisterEnabled") is False
    assert options.int("RetryTimes") == 3
    assert options.get("Notice") == "hi"
    # A later overlay starts from the defaults again (a deleted row reverts).
    options.apply({})
    assert options.get("Notice") == "" and options.int("RetryTimes") == 0


@pytest.mark.parametrize("bad", ["", "abc", "nan", "inf"])
def test_unparsable_numbers_keep_the_default(bad: str) -> None:
    options = Options(default_options())
    options.apply({"QuotaPerUnit": bad, "PreConsumedQuota": bad})
    assert options.float("QuotaPerUnit") == 500000.0
    assert options.int("PreConsumedQuota") == 500


def test_stored_model_ratio_gains_new_default_keys_but_keeps_its_own() -> None:
    options = Options(default_options())
    options.apply({"ModelRatio": '{"gpt-4": 99, "my-model": 2}'})
    merged = orjson.loads(options["ModelRatio"])
    assert merged["gpt-4"] == 99 and merged["my-model"] == 2
    assert merged["gpt-4o-mini"] == DEFAULT_MODEL_RATIO["gpt-4o-mini"]


def test_invalid_stored_model_ratio_is_kept_verbatim() -> None:
    options = Options(default_options())
    options.apply({"ModelRatio": "{not json"})
    assert options["ModelRatio"] == "{not json"


def test_server_address_falls_back_to_localhost() -> None:
    options = Options(default_options())
    assert options.server_address == "http://localhost:3000"
    options.apply({"ServerAddress": "https://api.example.com"})
    assert options.server_address == "https://api.example.com"
