"""Zhipu adaptor: the JWT and its cache, URLs and bodies per API version, errors."""

from __future__ import annotations

import warnings
from typing import Any

import jwt
import orjson
import pytest

from oneapi.cache.entities import ChannelInfo
from oneapi.relay.adaptors import adaptor_for, zhipu
from oneapi.relay.adaptors.base import Meta
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, should_disable

KEY = "4c5d1e6f.Xy7AbCdEfGh12345"  # the id.secret shape Zhipu issues (short secret)


def make_meta(body: dict[str, Any], *, mode: Mode = Mode.CHAT) -> Meta:
    req = parse_request(mode, orjson.dumps(body), "application/json")
    ch = ChannelInfo(id=3, type=16, key=KEY, name="z", status=1, base_url="",
                     models=(req.model,), groups=("default",), priority=0, weight=0,
                     model_mapping={}, config={}, other="", system_prompt="")
    return Meta(mode=mode, channel=ch, request=req, path="/v1/chat/completions",
                base_url="https://open.bigmodel.cn", api_key=KEY, origin_model=req.model,
                model=req.model)


def test_jwt_claims_header_and_signature() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no key-length warning from the gateway's side
        token = zhipu.sign("4c5d1e6f", "Xy7AbCdEfGh12345", 1_700_000_000.5)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT",
                                                "sign_type": "SIGN"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = jwt.decode(token, "Xy7AbCdEfGh12345", algorithms=["HS256"],
                            options={"verify_exp": False})
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, "another-secret", algorithms=["HS256"],
                       options={"verify_exp": False})
    assert claims == {"api_key": "4c5d1e6f", "timestamp": 1_700_000_000_500,
                      "exp": 1_700_000_000_500 + 86_400_000}


def test_tokens_are_cached_until_near_expiry() -> None:
    now = [1_700_000_000.0]
    cache = zhipu.TokenCache(lambda: now[0])
    first = cache.token(KEY)
    now[0] += 3600
    assert cache.token(KEY) == first
    now[0] += 86_400 - 3600 - zhipu.RENEW_BEFORE + 1
    assert cache.token(KEY) != first
    with pytest.raises(UpstreamFailure) as info:
        cache.token("no-dot")
    assert info.value.error.status == 401


def test_v4_and_v3_requests() -> None:
    adaptor = zhipu.ZhipuAdaptor(zhipu.TokenCache())
    meta = make_meta({"model": "glm-4", "temperature": 2, "top_p": -1, "stream": True,
                      "stream_options": {"include_usage": True},
                      "messages": [{"role": "user", "content": "hi"}]})
    req = adaptor.build_request(meta)
    assert req.url == "https://open.bigmodel.cn/api/paas/v4/chat/completions"
    assert req.headers["authorization"].count(".") == 2  # a bare JWT, no "Bearer"
    body = orjson.loads(req.body)
    assert (body["temperature"], body["top_p"], body["stream"]) == (1, 0, True)
    assert "stream_options" not in body
    meta = make_meta({"model": "chatglm_pro", "messages": [{"role": "user", "content": "hi"}]})
    req = adaptor.build_request(meta)
    assert req.url == "https://open.bigmodel.cn/api/paas/v3/model-api/chatglm_pro/invoke"
    assert orjson.loads(req.body) == {"prompt": [{"role": "user", "content": "hi"}]}
    meta = make_meta({"model": "embedding-2", "input": ["only one"]}, mode=Mode.EMBEDDINGS)
    req = adaptor.build_request(meta)
    assert req.url.endswith("/api/paas/v4/embeddings")
    assert orjson.loads(req.body) == {"model": "embedding-2", "input": "only one"}
    assert isinstance(adaptor_for(16), zhipu.ZhipuAdaptor)


def test_errors() -> None:
    error = zhipu.zhipu_error(401, b'{"error":{"code":"1002","message":"token invalid"}}')
    assert error is not None and error.status == 401 and should_disable(error)
    error = zhipu.zhipu_error(400, b'{"error":{"code":"1301","message":"unsafe"}}')
    assert error is not None and (error.status, error.type, error.code) == (
        400, "zhipu_error", "1301")
    error = zhipu.error_of(200, {"code": 1261, "msg": "too long", "success": False})
    assert error is not None and (error.status, error.message) == (500, "too long")
    assert zhipu.zhipu_error(500, b"<html>") is None
