"""AWS Bedrock adaptor: SigV4 (AWS's published test vectors and botocore's own client),
credentials, endpoints, model ids, Claude/Llama bodies, event-stream decoding, errors."""

from __future__ import annotations

import base64
import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.auth
import botocore.session
import orjson
import pytest
from botocore.awsrequest import AWSResponse

from oneapi.cache.entities import ChannelInfo
from oneapi.errors import RelayError
from oneapi.relay.adaptors import adaptor_for
from oneapi.relay.adaptors.aws import (
    AwsAdaptor,
    bedrock_error,
    bedrock_model,
    channel_config,
    llama_prompt,
    model_path,
    sign,
)
from oneapi.relay.adaptors.base import Meta, StreamResult, Usage
from oneapi.relay.modes import Mode
from oneapi.relay.parse import parse_request
from oneapi.relay.upstream_errors import UpstreamFailure, should_disable
from tests.fakes.bedrock import chunk_frame, exception_frame, frame

# AWS's Signature Version 4 test suite (aws-sig-v4-test-suite): credentials, time, scope.
SUITE_AK = "AKIDEXAMPLE"
SUITE_SK = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0)
SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime.datetime]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: SUITE_TIME)
    yield SUITE_TIME


@pytest.mark.parametrize(("method", "url", "headers", "body", "signed", "signature"), [
    # get-vanilla
    ("GET", "https://example.amazonaws.com/", {"Host": "example.amazonaws.com"}, b"",
     "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    # post-vanilla
    ("POST", "https://example.amazonaws.com/", {"Host": "example.amazonaws.com"}, b"",
     "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    # post-x-www-form-urlencoded
    ("POST", "https://example.amazonaws.com/",
     {"Host": "example.amazonaws.com", "Content-Type": "application/x-www-form-urlencoded"},
     b"Param1=value1", "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    # get-vanilla-query-order-key-case
    ("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1",
     {"Host": "example.amazonaws.com"}, b"", "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
], ids=["get-vanilla", "post-vanilla", "post-x-www-form-urlencoded", "get-query-order"])
def test_sigv4_published_vectors(frozen: datetime.datetime, method: str, url: str,
                                 headers: dict[str, str], body: bytes, signed: str,
                                 signature: str) -> None:
    out = sign(method, url, headers, body, access_key=SUITE_AK, secret_key=SUITE_SK,
               region="us-east-1", service="service")
    assert out["x-amz-date"] == "20150830T123600Z"
    assert out["authorization"] == (f"AWS4-HMAC-SHA256 Credential={SCOPE}, "
                                    f"SignedHeaders={signed}, Signature={signature}")


def test_sigv4_matches_botocores_own_bedrock_client(frozen: datetime.datetime) -> None:
    """Our request for InvokeModel signs exactly like botocore's bedrock-runtime client."""
    session = botocore.session.get_session()
    client = session.create_client("bedrock-runtime", region_name="eu-west-3",
                                   aws_access_key_id=SUITE_AK,
                                   aws_secret_access_key=SUITE_SK)
    captured: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured["request"] = request
        raw = type("Raw", (), {"stream": lambda self, **k: iter([b"{}"]),
                               "read": lambda self, *a: b"{}"})()
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, raw)

    client.meta.events.register("before-send", capture)
    body = b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[]}'
    client.invoke_model(modelId="anthropic.claude-v2", body=body,
                        contentType="application/json", accept="application/json")
    theirs = captured["request"]
    url = "https://bedrock-runtime.eu-west-3.amazonaws.com" + model_path("anthropic.claude-v2",
                                                                         False)
    assert theirs.url == url
    ours = sign("POST", url, {"content-type": "application/json", "accept": "application/json"},
                body, access_key=SUITE_AK, secret_key=SUITE_SK, region="eu-west-3")
    authorization = theirs.headers["Authorization"]
    assert ours["authorization"] == (authorization.decode() if isinstance(authorization, bytes)
                                     else authorization)
    assert "/eu-west-3/bedrock/aws4_request" in ours["authorization"]


def test_model_path_keeps_colons_and_encodes_slashes() -> None:
    assert model_path("anthropic.claude-v2:1", False) == "/model/anthropic.claude-v2:1/invoke"
    assert model_path("meta.llama3-8b-instruct-v1:0", True) == (
        "/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream")
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v2:1"
    assert model_path(arn, False) == (
        "/model/arn:aws:bedrock:us-east-1:123456789012:inference-profile%2F"
        "us.anthropic.claude-v2:1/invoke")


# --- channel config ------------------------------------------------------------------------
def make_channel(key: str = "", config: dict[str, Any] | None = None,
                 base_url: str = "") -> ChannelInfo:
    return ChannelInfo(id=1, type=33, key=key, name="aws", status=1, base_url=base_url,
                       models=(), groups=("default",), priority=0, weight=0, model_mapping={},
                       config=config or {}, other="", system_prompt="")


def make_meta(body: dict[str, Any], *, channel: ChannelInfo | None = None,
              model: str | None = None) -> Meta:
    req = parse_request(Mode.CHAT, orjson.dumps(body), "application/json")
    ch = channel or make_channel(config={"ak": "AK", "sk": "SK", "region": "us-west-2"})
    meta = Meta(mode=Mode.CHAT, channel=ch, request=req, path="/v1/chat/completions",
                base_url=ch.base_url, api_key=ch.key, origin_model=req.model,
                model=model or req.model)
    meta.prompt_tokens = 9
    return meta


def test_credentials_from_config_or_key() -> None:
    config = channel_config(make_channel(config={"ak": "A", "sk": "S", "region": "r1"}))
    assert (config.access_key, config.secret_key, config.region, config.bearer) == (
        "A", "S", "r1", "")
    config = channel_config(make_channel(key="A2|S2|r2"))
    assert (config.access_key, config.secret_key, config.region) == ("A2", "S2", "r2")
    config = channel_config(make_channel(key="A2|S2", config={"region": "r3"}))
    assert config.region == "r3"
    config = channel_config(make_channel(key="ABSKbedrockapikey", config={"region": "r4"}))
    assert (config.bearer, config.region) == ("ABSKbedrockapikey", "r4")
    for bad in (make_channel(key="A|S"), make_channel(config={"ak": "A"}),
                make_channel(key="apikey")):
        with pytest.raises(UpstreamFailure) as info:
            channel_config(bad)
        assert info.value.error.code == "channel_config_invalid" and info.value.retryable


def test_registered_for_type_33() -> None:
    assert isinstance(adaptor_for(33), AwsAdaptor)


def test_claude_request(monkeypatch: pytest.MonkeyPatch) -> None:
    meta = make_meta({"model": "claude-3-5-sonnet-20240620", "max_tokens": 10, "user": "u",
                      "messages": [{"role": "system", "content": "Be brief."},
                                   {"role": "user", "content": "hi"}]})
    up = AwsAdaptor().build_request(meta)
    assert up.url == ("https://bedrock-runtime.us-west-2.amazonaws.com/model/"
                      "anthropic.claude-3-5-sonnet-20240620-v1:0/invoke")
    assert orjson.loads(up.body) == {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    auth = up.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AK/")
    assert "/us-west-2/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date, "\
        in auth
    assert up.headers["accept"] == "application/json"
    assert "SK" not in auth


def test_stream_request_and_endpoint_override() -> None:
    channel = make_channel(key="AK|SK|ap-south-1", base_url="http://127.0.0.1:9/")
    meta = make_meta({"model": "claude-2.1", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]}, channel=channel)
    up = AwsAdaptor().build_request(meta)
    assert up.url == "http://127.0.0.1:9/model/anthropic.claude-v2:1/invoke-with-response-stream"
    assert up.headers["x-amzn-bedrock-accept"] == "application/json"
    assert "stream" not in orjson.loads(up.body)
    assert "x-amzn-bedrock-accept" in up.headers["authorization"]


def test_bearer_api_key() -> None:
    channel = make_channel(key="bedrock-api-key", config={"region": "us-east-1"})
    up = AwsAdaptor().build_request(make_meta(
        {"model": "claude-2.1", "messages": [{"role": "user", "content": "hi"}]},
        channel=channel))
    assert up.headers["authorization"] == "Bearer bedrock-api-key"
    assert "x-amz-date" not in up.headers


def test_model_ids() -> None:
    hello = [{"role": "user", "content": "hi"}]
    assert bedrock_model(make_meta({"model": "claude-3-5-sonnet-latest", "messages": hello})) \
        == "anthropic.claude-3-5-sonnet-20241022-v2:0"
    # mapped name first, then the requested one (the reference only uses the requested one)
    meta = make_meta({"model": "claude-3-haiku-20240307", "messages": hello}, model="my-alias")
    assert bedrock_model(meta) == "anthropic.claude-3-haiku-20240307-v1:0"
    meta = make_meta({"model": "sonnet", "messages": hello}, model="claude-3-opus-20240229")
    assert bedrock_model(meta) == "anthropic.claude-3-opus-20240229-v1:0"
    for raw in ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "meta.llama3-1-8b-instruct-v1:0",
                "arn:aws:bedrock:us-east-1:1:inference-profile/x"):
        assert bedrock_model(make_meta({"model": "x", "messages": hello}, model=raw)) == raw
    assert bedrock_model(make_meta({"model": "llama3-70b-8192", "messages": hello})) == \
        "meta.llama3-70b-instruct-v1:0"
    with pytest.raises(UpstreamFailure) as info:
        bedrock_model(make_meta({"model": "gpt-4", "messages": hello}))
    assert info.value.error.status == 400 and info.value.retryable


def test_image_urls_are_refused_but_data_urls_go_inline() -> None:
    png = "iVBORw0KGgo="
    parts = [{"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]
    with pytest.raises(RelayError) as info:
        AwsAdaptor().build_request(make_meta({"model": "claude-2.1", "messages": [
            {"role": "user", "content": parts}]}))
    assert info.value.status == 400
    up = AwsAdaptor().build_request(make_meta({"model": "claude-2.1", "messages": [
        {"role": "user", "content": [{"type": "image_url",
                                      "image_url": {"url": f"data:image/jpeg;base64,{png}"}}]}]}))
    block = orjson.loads(up.body)["messages"][0]["content"][0]
    assert block == {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                 "data": png}}


# --- Llama 3 -------------------------------------------------------------------------------
def test_llama_prompt_format() -> None:
    assert llama_prompt([{"role": "user", "content": "What's your name?"}]) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat's your name?"
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert llama_prompt([{"role": "system", "content": "You are Kat."},
                         {"role": "user", "content": "Name?"},
                         {"role": "assistant", "content": "Kat"},
                         {"role": "user", "content": [{"type": "text", "text": "Job?"}]}]) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are Kat.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nName?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nKat<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nJob?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")


def test_llama_request_and_reply() -> None:
    meta = make_meta({"model": "llama3-8b-8192", "temperature": 0.2,
                      "messages": [{"role": "user", "content": "hi"}]})
    up = AwsAdaptor().build_request(meta)
    assert up.url.endswith("/model/meta.llama3-8b-instruct-v1:0/invoke")
    body = orjson.loads(up.body)
    assert body["max_gen_len"] == 2048 and body["temperature"] == 0.2
    assert body["prompt"].startswith("<|begin_of_text|>")
    out = AwsAdaptor().parse_reply(meta, 200, [], orjson.dumps(
        {"generation": "Hi there", "prompt_token_count": 15, "generation_token_count": 2,
         "stop_reason": "length"}))
    data = orjson.loads(out.body)
    assert data["choices"][0] == {"index": 0, "finish_reason": "length",
                                  "message": {"role": "assistant", "content": "Hi there"}}
    assert out.usage == Usage(15, 2)
    with pytest.raises(RelayError):
        AwsAdaptor().build_request(make_meta({"model": "llama3-8b-8192", "tools": [
            {"type": "function", "function": {"name": "f"}}],
            "messages": [{"role": "user", "content": "hi"}]}))


def test_claude_reply_usage_falls_back_to_headers() -> None:
    meta = make_meta({"model": "claude-2.1", "messages": [{"role": "user", "content": "hi"}]})
    body = orjson.dumps({"id": "msg_b", "type": "message", "role": "assistant",
                         "content": [{"type": "text", "text": "Yo"}], "stop_reason": "end_turn"})
    out = AwsAdaptor().parse_reply(meta, 200, [("X-Amzn-Bedrock-Input-Token-Count", "31"),
                                               ("X-Amzn-Bedrock-Output-Token-Count", "4")], body)
    assert out.usage == Usage(31, 4)
    assert orjson.loads(out.body)["id"] == "chatcmpl-msg_b"


# --- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "body", "kind", "code", "disable"), [
    (400, {"message": "Malformed input request"}, "invalid_request_error", "ValidationException",
     False),
    (403, {"message": "The security token included in the request is invalid."},
     "permission_error", "AccessDeniedException", True),
    (403, {"__type": "com.amazon.coral.service#UnrecognizedClientException",
           "message": "bad token"}, "authentication_error", "UnrecognizedClientException", True),
    (429, {"message": "Too many requests"}, "rate_limit_error", "ThrottlingException", False),
    (424, {"message": "model failed"}, "model_error", "ModelErrorException", False),
    (503, {"message": "busy"}, "overloaded_error", "ServiceUnavailableException", False),
])
def test_error_mapping(status: int, body: dict[str, Any], kind: str, code: str,
                       disable: bool) -> None:
    err = bedrock_error(status, orjson.dumps(body))
    assert (err.status, err.message, err.type, err.code) == (status, body["message"], kind, code)
    assert should_disable(err) == disable


def test_error_mapping_of_foreign_bodies() -> None:
    err = bedrock_error(502, b"<html>")
    assert (err.status, err.message) == (502, "bad response status code 502")


# --- event streams -------------------------------------------------------------------------
CLAUDE_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_s", "usage": {"input_tokens": 14,
                                                                   "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
     "usage": {"output_tokens": 3}},
    {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
        "inputTokenCount": 14, "outputTokenCount": 3, "invocationLatency": 1,
        "firstByteLatency": 1}},
]


async def decode(meta: Meta, raw: bytes, size: int) -> tuple[list[Any], StreamResult]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(raw), size):
            yield raw[i:i + size]

    result = StreamResult()
    out = b"".join([c async for c in AwsAdaptor().stream(meta, chunks(), result)])
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    events = [e.removeprefix(b"data: ") for e in out[:-2].split(b"\n\n")]
    return [orjson.loads(e) if e != b"[DONE]" else "[DONE]" for e in events], result


@pytest.mark.parametrize("size", [1, 10, 100_000])
async def test_claude_event_stream(size: int) -> None:
    meta = make_meta({"model": "claude-2.1", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]})
    raw = b"".join(chunk_frame(e, padding=i % 2 == 0) for i, e in enumerate(CLAUDE_EVENTS))
    raw += frame({":event-type": "somethingNew", ":message-type": "event"}, b"{}")
    events, result = await decode(meta, raw, size)
    assert [c["choices"][0]["delta"] for c in events[:3]] == [
        {"role": "assistant", "content": ""}, {"content": "Hi"}, {}]
    assert events[2]["choices"][0]["finish_reason"] == "length"
    assert events[0]["id"] == "chatcmpl-msg_s"
    assert events[3]["usage"] == {"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17}
    assert result.usage == Usage(14, 3)


async def test_metrics_give_usage_when_events_do_not() -> None:
    meta = make_meta({"model": "claude-2.1", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]})
    bare = [{"type": "message_start", "message": {"id": "m"}}, *CLAUDE_EVENTS[1:4],
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, CLAUDE_EVENTS[5]]
    _, result = await decode(meta, b"".join(chunk_frame(e) for e in bare), 64)
    assert result.usage == Usage(14, 3)


async def test_exception_event_becomes_an_error_event() -> None:
    meta = make_meta({"model": "claude-2.1", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]})
    raw = b"".join(chunk_frame(e) for e in CLAUDE_EVENTS[:3])
    raw += exception_frame("throttlingException", "Too many tokens, please wait.")
    raw += chunk_frame(CLAUDE_EVENTS[4])
    events, _ = await decode(meta, raw, 7)
    assert events[2] == {"error": {"message": "Too many tokens, please wait.",
                                   "type": "rate_limit_error", "param": None,
                                   "code": "throttlingException"}}
    assert events[3]["choices"] == [] and events[4] == "[DONE]"


async def test_corrupt_frames_end_the_stream_cleanly() -> None:
    meta = make_meta({"model": "claude-2.1", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]})
    good = chunk_frame(CLAUDE_EVENTS[0])
    bad = bytearray(chunk_frame(CLAUDE_EVENTS[2]))
    bad[-1] ^= 0xFF  # message CRC no longer matches
    events, _ = await decode(meta, good + bytes(bad) + good, 5)
    assert events[1]["error"]["code"] == "bad_event_stream"
    assert events[-1] == "[DONE]"


async def test_llama_event_stream() -> None:
    meta = make_meta({"model": "llama3-8b-8192", "stream": True,
                      "messages": [{"role": "user", "content": "hi"}]})
    parts = [{"generation": "Hello", "prompt_token_count": 15, "generation_token_count": 1,
              "stop_reason": None},
             {"generation": " there", "prompt_token_count": None, "generation_token_count": 2,
              "stop_reason": "stop", "amazon-bedrock-invocationMetrics": {
                  "inputTokenCount": 15, "outputTokenCount": 2}}]
    events, result = await decode(meta, b"".join(chunk_frame(p) for p in parts), 3)
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in events[:4]]
    assert deltas == [({"role": "assistant", "content": ""}, None), ({"content": "Hello"}, None),
                      ({"content": " there"}, None), ({}, "stop")]
    assert result.usage == Usage(15, 2)


def test_chunk_payload_is_base64_json() -> None:
    """The fixture helper frames what Bedrock documents: {"bytes": base64(model event)}."""
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(chunk_frame({"type": "ping"}))
    message = next(iter(buffer))
    assert message.headers == {":event-type": "chunk", ":content-type": "application/json",
                               ":message-type": "event"}
    assert orjson.loads(base64.b64decode(orjson.loads(message.payload)["bytes"])) == {
        "type": "ping"}
