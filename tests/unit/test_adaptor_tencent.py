"""Tencent Hunyuan adaptor: TC3 signing (cross-checked with Tencent's own SDK signer)
and the pure conversions."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from tencentcloud.common.common_client import CommonClient  # type: ignore[import-untyped]
from tencentcloud.common.credential import Credential  # type: ignore[import-untyped]
from tencentcloud.common.http.request import RequestInternal  # type: ignore[import-untyped]

from oneapi.relay.adaptors.tencent import (
    error_from_hunyuan,
    error_status,
    hunyuan_messages,
    parse_key,
    tc3_authorization,
)
from oneapi.relay.upstream_errors import UpstreamFailure


@pytest.mark.parametrize("params", [{"Model": "hunyuan-lite"},
                                    {"Model": "hunyuan-turbo", "Messages": [
                                        {"Role": "user", "Content": "未命名 \u2028 ü"}]}])
def test_tc3_matches_tencent_sdk(params: dict[str, object]) -> None:
    """The whole signature, canonical request included, equals what Tencent's Python SDK
    computes for the same request (its AbstractClient TC3 path)."""
    client = CommonClient("hunyuan", "2023-09-01", Credential("AKIDexample", "s3cr3t"), "")
    req = RequestInternal("hunyuan.tencentcloudapi.com", "POST", "/")
    with mock.patch.object(time, "time", return_value=1551113065):
        client._build_req_with_tc3_signature("ChatCompletions", params, req)
    ours = tc3_authorization("AKIDexample", "s3cr3t", host="hunyuan.tencentcloudapi.com",
                             payload=req.data.encode(), timestamp=1551113065)
    assert ours == req.header["Authorization"]
    assert "Credential=AKIDexample/2019-02-25/hunyuan/tc3_request" in ours


def test_key_format() -> None:
    assert parse_key("1300|AKID|sk") == ("1300", "AKID", "sk")
    with pytest.raises(UpstreamFailure):
        parse_key("AKID|sk")


@pytest.mark.parametrize(("code", "status"), [
    ("AuthFailure.SignatureFailure", 401), ("AuthFailure.SecretIdNotFound", 401),
    ("LimitExceeded", 429), ("RequestLimitExceeded", 429), ("InvalidParameterValue", 400),
    ("MissingParameter", 400), ("InternalError", 500), ("FailedOperation.EngineServerError", 500)])
def test_error_status(code: str, status: int) -> None:
    assert error_status(code) == status


def test_error_body() -> None:
    error = error_from_hunyuan({"Response": {"Error": {"Code": "AuthFailure", "Message": "no"},
                                             "RequestId": "r"}})
    assert error is not None
    assert (error.status, error.message, error.code) == (401, "no", "AuthFailure")
    assert error_from_hunyuan({"Response": {"Choices": []}}) is None


def test_messages() -> None:
    assert hunyuan_messages([
        {"role": "developer", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]) == [{"Role": "system", "Content": "sys"}, {"Role": "user", "Content": "ab"},
           {"Role": "tool", "Content": "42", "ToolCallId": "c1"}]
