"""Offline tiktoken encodings and the reference's token-counting rules (spec 6.6)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.load
import tiktoken.model
from tiktoken_ext import openai_public

from oneapi.tokenize import count, encodings
from oneapi.tokenize.count import (
    O200K_MODELS,
    approximate,
    count_input,
    count_messages,
    count_text,
    encoder_for_model,
    encoding_name_for_model,
    high_detail_tiles,
    image_tokens,
    set_approximate_enabled,
)
from oneapi.tokenize.encodings import (
    CL100K_BASE,
    EXPECTED_SHA256,
    O200K_BASE,
    EncodingDataError,
    build_encoding,
    get_encoding,
)
from oneapi.tokenize.imagesize import ImageSizeError, data_url_image_size, image_size

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _exact_counting() -> Iterator[None]:
    set_approximate_enabled(False)
    yield
    set_approximate_enabled(False)


# --- encodings ------------------------------------------------------------------------


def test_known_token_ids() -> None:
    assert get_encoding(CL100K_BASE).encode_ordinary("hello world") == [15339, 1917]
    assert get_encoding(O200K_BASE).encode_ordinary("hello world") == [24912, 2375]
    assert get_encoding(CL100K_BASE).n_vocab == 100277
    assert get_encoding(O200K_BASE).n_vocab == 200019
    assert count_text("hello world", "gpt-3.5-turbo") == 2
    assert count_text("hello world", "gpt-4o") == 2


def test_encodings_are_built_once_and_shared() -> None:
    assert get_encoding(CL100K_BASE) is get_encoding(CL100K_BASE)
    assert encodings.cl100k_base() is get_encoding(CL100K_BASE)
    assert encodings.o200k_base() is get_encoding(O200K_BASE)
    with pytest.raises(KeyError, match="not available offline"):
        get_encoding("p50k_base")


def test_concurrent_first_use_builds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    sentinel = object()

    def slow_build(name: str, source: object = None) -> object:
        calls.append(name)
        time.sleep(0.05)
        return sentinel

    monkeypatch.setattr(encodings, "_built", {})
    monkeypatch.setattr(encodings, "build_encoding", slow_build)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(get_encoding(CL100K_BASE))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [CL100K_BASE]
    assert results == [sentinel] * 8


@pytest.fixture(scope="module")
def stock_encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tiktoken.Encoding]:
    """Encodings built by tiktoken's own loader from a pre-filled cache directory.

    This is tiktoken's documented offline path; its download function is made to
    fail so a cache miss cannot silently go to the network.
    """
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    urls = {
        CL100K_BASE: "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        O200K_BASE: "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    }
    for name, url in urls.items():
        data = encodings.read_bpe_file(name)
        (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(data)

    def no_download(blobpath: str) -> bytes:
        raise AssertionError(f"tiktoken tried to download {blobpath}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        mp.setattr(tiktoken.load, "read_file", no_download)
        return {
            name: tiktoken.Encoding(**openai_public.ENCODING_CONSTRUCTORS[name]()) for name in urls
        }


SAMPLE_TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog. 1234567890",
    "def f(x):\n    return x ** 2  # square\n\n\n\tprint(f(3))\r\n",
    "Bonjour 世界 🌍 — naïve café, Здравствуйте, مرحبا, नमस्ते",
    "<|endoftext|> and <|fim_prefix|> are plain text here <|endofprompt|>",
    "   leading and trailing spaces   \n\n",
    "I'm sure they'll've done it; we'd've said so. DON'T SHOUT",
    "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(300)),
    "",
]


@pytest.mark.parametrize("name", [CL100K_BASE, O200K_BASE])
def test_offline_encoding_matches_stock_tiktoken(
    name: str, stock_encodings: dict[str, tiktoken.Encoding]
) -> None:
    ours, stock = get_encoding(name), stock_encodings[name]
    assert ours.name == stock.name
    assert ours.n_vocab == stock.n_vocab
    assert ours._pat_str == stock._pat_str
    assert ours._special_tokens == stock._special_tokens
    assert build_encoding(name)._mergeable_ranks == stock._mergeable_ranks
    assert ours._mergeable_ranks == {}  # the shared copy drops Python's duplicate ranks
    for text in SAMPLE_TEXTS:
        assert ours.encode_ordinary(text) == stock.encode_ordinary(text), text
        assert ours.encode(text, disallowed_special=()) == stock.encode(text, disallowed_special=())


def test_special_token_text_counts_as_ordinary_text() -> None:
    # The reference encodes with no allowed and no disallowed special tokens.
    enc = get_encoding(CL100K_BASE)
    assert count_text("<|endoftext|>", "gpt-4") == len(enc.encode_ordinary("<|endoftext|>")) == 7


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def test_sha256_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    good = encodings.read_bpe_file(CL100K_BASE)
    corrupted = bytearray(good)
    corrupted[1000] ^= 0x01
    bad = tmp_path / "cl100k_base.tiktoken.gz"
    bad.write_bytes(_gz(bytes(corrupted)))
    with pytest.raises(
        EncodingDataError, match="sha256 mismatch for the cl100k_base BPE file"
    ) as ei:
        encodings.build_encoding(CL100K_BASE, source=bad)
    assert EXPECTED_SHA256[CL100K_BASE] in str(ei.value)
    assert hashlib.sha256(bytes(corrupted)).hexdigest() in str(ei.value)


def test_not_gzip_and_missing_file_are_clear_errors(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"not gzip at all")
    with pytest.raises(EncodingDataError, match="not a valid gzip file"):
        encodings.read_bpe_file(O200K_BASE, source=plain)
    with pytest.raises(EncodingDataError, match="cannot read"):
        encodings.read_bpe_file(O200K_BASE, source=tmp_path / "missing.gz")


def test_bundled_files_and_parser() -> None:
    data = encodings.read_bpe_file(CL100K_BASE)
    assert hashlib.sha256(data).hexdigest() == EXPECTED_SHA256[CL100K_BASE]
    assert encodings.bundled_file(O200K_BASE).name == "o200k_base.tiktoken.gz"
    assert encodings.parse_ranks(b"aGVsbG8= 7\n\nIQ== 8\n") == {b"hello": 7, b"!": 8}
    with pytest.raises(EncodingDataError, match="cannot parse line 2"):
        encodings.parse_ranks(b"aGVsbG8= 7\nnot-a-line\n")


def test_preload_still_fails_at_start_up_when_a_lazy_encoding_is_missing(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # o200k is only built on first use, but a broken install must not wait for that.
    bundled = encodings.bundled_file
    monkeypatch.setattr(encodings, "bundled_file", lambda name: (
        tmp_path / "gone.tiktoken.gz" if name == O200K_BASE else bundled(name)))
    with pytest.raises(EncodingDataError, match=r"the o200k_base BPE file .* is missing"):
        encodings.preload()


def test_pins_agree_with_tiktoken_definitions() -> None:
    # The offline loader refuses to serve a file whose hash tiktoken would not accept.
    seen: dict[str, str | None] = {}
    for name in (CL100K_BASE, O200K_BASE):
        ctor = openai_public.ENCODING_CONSTRUCTORS[name]

        def capture(url: str, expected_hash: str | None = None, _n: str = name) -> dict[bytes, int]:
            seen[_n] = expected_hash
            return {}

        ns = {**ctor.__globals__, "load_tiktoken_bpe": capture}
        type(ctor)(ctor.__code__, ns)()
    assert seen == EXPECTED_SHA256


def test_no_network_in_a_fresh_process(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    script = textwrap.dedent(
        """
        import os, socket, sys

        def deny(*args, **kwargs):
            raise AssertionError("network access attempted")

        socket.socket = deny
        socket.create_connection = deny
        socket.getaddrinfo = deny
        sys.modules["requests"] = None  # any import of requests fails
        sys.modules["blobfile"] = None
        import tiktoken.load
        tiktoken.load.read_file = deny
        tiktoken.load.read_file_cached = deny

        from oneapi.tokenize import count_messages, count_text, encoder_ready, preload

        preload()
        # Start-up builds cl100k only; o200k waits for its first use.
        assert encoder_ready("gpt-3.5-turbo") and encoder_ready("my-own-model")
        assert not encoder_ready("gpt-4o") and not encoder_ready("o1-mini")
        assert count_text("hello world", "gpt-3.5-turbo") == 2
        assert count_text("Bonjour 世界 🌍", "gpt-4o") == 4
        assert encoder_ready("gpt-4o") and encoder_ready("o1-mini")
        image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        low = {"type": "image_url",
               "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
        assert count_messages([{"role": "user", "content": [image]}], "gpt-4o") == 3 + 0 + 1 + 3
        assert count_messages([{"role": "user", "content": [low]}], "gpt-4o") == 3 + 85 + 1 + 3
        assert os.listdir(os.environ["TIKTOKEN_CACHE_DIR"]) == []
        print("OFFLINE-OK")
        """
    )
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "OFFLINE-OK"
    assert list(cache.iterdir()) == []


# --- encoder per model ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", O200K_BASE),
        ("gpt-4o-2024-08-06", O200K_BASE),
        ("gpt-4o-mini", O200K_BASE),
        ("chatgpt-4o-latest", O200K_BASE),
        ("o1", O200K_BASE),
        ("o1-mini-2024-09-12", O200K_BASE),
        ("o3-mini", O200K_BASE),
        ("gpt-4", CL100K_BASE),
        ("gpt-4-turbo", CL100K_BASE),
        ("gpt-4-vision-preview", CL100K_BASE),
        ("gpt-3.5-turbo", CL100K_BASE),
        ("gpt-3.5-turbo-0301", CL100K_BASE),
        ("text-embedding-3-small", CL100K_BASE),
        ("text-davinci-003", CL100K_BASE),  # p50k_base is not shipped: default encoder
        ("claude-3-opus-20240229", CL100K_BASE),
        ("qwen-max", CL100K_BASE),
        ("openai/gpt-4o", CL100K_BASE),  # tiktoken does not know the prefixed name
        ("gpt-4o-audio-preview", CL100K_BASE),  # not in the reference's ratio table
        ("", CL100K_BASE),
    ],
)
def test_encoder_selection(model: str, expected: str) -> None:
    assert encoding_name_for_model(model) == expected
    assert encoder_for_model(model) is get_encoding(expected)


def test_encoder_choice_changes_counts() -> None:
    assert count_text("Bonjour 世界 🌍", "gpt-4") == 8
    assert count_text("Bonjour 世界 🌍", "gpt-4o") == 4


def _reference_rule(model: str) -> str:
    """The reference's InitTokenEncoders/getTokenEncoder for a model of its ratio table."""
    if model.startswith("gpt-3.5"):
        return CL100K_BASE
    if model.startswith("gpt-4o"):
        return O200K_BASE
    if model.startswith("gpt-4"):
        return CL100K_BASE
    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return CL100K_BASE
    return name if name in encodings.AVAILABLE else CL100K_BASE


def test_o200k_models_match_the_reference_ratio_table() -> None:
    ratio_defaults = pytest.importorskip("oneapi.billing.ratio_defaults")
    table: dict[str, float] = ratio_defaults.DEFAULT_MODEL_RATIO
    derived = {m for m in table if _reference_rule(m) == O200K_BASE}
    assert derived == O200K_MODELS


# --- messages -------------------------------------------------------------------------

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "name": "alice", "content": "hello world"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
        ],
    },
    {"role": "assistant", "content": "Bonjour 世界 🌍"},
]


def test_per_text_counts_used_below() -> None:
    for model in ("gpt-3.5-turbo", "gpt-4o"):
        assert count_text("You are a helpful assistant.", model) == 6
        assert count_text("What is in this image?", model) == 6
        for one_token in ("system", "user", "assistant", "alice"):
            assert count_text(one_token, model) == 1
    assert count_text("Bonjour 世界 🌍", "gpt-3.5-turbo") == 8
    assert count_text("Bonjour 世界 🌍", "gpt-4o") == 4


def test_count_messages_by_hand() -> None:
    # per message 3 + content + role; name: +1 + name; image low: 85; reply priming +3
    system = 3 + 6 + 1
    named = 3 + 2 + 1 + (1 + 1)
    parts = 3 + (6 + 85) + 1
    reply = 3 + 8 + 1
    assert count_messages(MESSAGES, "gpt-3.5-turbo") == system + named + parts + reply + 3 == 128
    # o200k: only the last content differs (4 tokens instead of 8)
    assert count_messages(MESSAGES, "gpt-4o") == 128 - 8 + 4 == 124
    # gpt-4o-mini: low-detail image costs 2833
    assert count_messages(MESSAGES, "gpt-4o-mini") == 124 - 85 + 2833
    # gpt-3.5-turbo-0301: 4 per message, -1 per name
    assert count_messages(MESSAGES, "gpt-3.5-turbo-0301") == 128 + 4 * 1 - 2 == 130


def test_count_messages_edge_cases() -> None:
    assert count_messages([], "gpt-4") == 3
    # missing role/content, null content, null name: only the fixed overheads
    assert count_messages([{}], "gpt-4") == 3 + 3
    assert count_messages([{"role": "user", "content": None, "name": None}], "gpt-4") == 3 + 1 + 3
    # empty name still costs the name overhead
    assert count_messages([{"role": "user", "content": "", "name": ""}], "gpt-4") == 3 + 1 + 1 + 3
    # tool calls, tool ids and non-text/image parts are not counted
    msg = {
        "role": "assistant",
        "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            "not a part",
            {"type": "text", "text": 42},
            {"type": "image_url", "image_url": "https://x.test/a.png"},
            {"type": "image_url", "image_url": {"detail": "low"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": 5}},
        ],
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
        ],
        "tool_call_id": "c1",
    }
    assert count_messages([msg], "gpt-4") == 3 + 1 + 3


def test_approximate() -> None:
    assert approximate("") == 0
    assert approximate("hello world") == int(11 * 0.38) == 4
    assert approximate("你好") == int(6 * 0.38) == 2  # UTF-8 bytes, not characters
    assert approximate("a" * 1000) == 380
    assert approximate("\ud800") == 1  # lone surrogate: 3 bytes, like Go's U+FFFD


def test_approximate_mode_applies_to_every_text() -> None:
    set_approximate_enabled(True)
    assert count.approximate_enabled()
    assert count_text("hello world", "gpt-4o") == 4
    # system: 3 + int(28*.38)=10 + int(6*.38)=2; named: 3 + 4 + 1 + 1 + int(5*.38)=1;
    # parts: 3 + int(22*.38)=8 + 85 + 1; reply: 3 + int(19*.38)=7 + int(9*.38)=3; +3
    assert count_messages(MESSAGES, "gpt-3.5-turbo") == 15 + 10 + 97 + 13 + 3 == 138
    set_approximate_enabled(False)
    assert count_text("hello world", "gpt-4o") == 2


def test_count_input() -> None:
    assert count_input("hello world", "text-moderation-latest") == 2
    assert count_input("hello world") == 2
    # a JSON array never matches the reference's []string case: 0
    assert count_input(["hello", "world"], "gpt-3.5-turbo-instruct") == 0
    assert count_input(None) == 0
    assert count_input([1, 2, 3]) == 0


# --- images ---------------------------------------------------------------------------


def _png(width: int, height: int, color_type: int = 2, depth: int = 8) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if color_type == 3:
        out += chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff")
    return out + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def _gif(width: int, height: int) -> bytes:
    # global color table of 2 entries (flag 0x80, size bits 0)
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00" * 6 + b";"


def _jpeg(width: int, height: int, jfif: bool = True) -> bytes:
    out = b"\xff\xd8"
    if jfif:
        app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        out += b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
    out += b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64  # DQT
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x00\x03\x11\x00"
    out += b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof
    sos = b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return out + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + b"\x00\xff\xd9"


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _webp_vp8x(width: int, height: int) -> bytes:
    body = (
        b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return _riff(b"VP8X" + struct.pack("<I", 10) + body)


def _webp_vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | (height - 1) << 14
    body = b"\x2f" + struct.pack("<I", bits) + b"\x00"
    return _riff(b"VP8L" + struct.pack("<I", len(body)) + body)


def _webp_vp8(width: int, height: int, key_frame: bool = True) -> bytes:
    tag = b"\x10\x02\x00" if key_frame else b"\x11\x02\x00"
    body = tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return _riff(b"VP8 " + struct.pack("<I", len(body)) + body)


def _data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (_png(1000, 3000), (1000, 3000)),
        (_png(16, 16, color_type=3, depth=1), (16, 16)),
        (_gif(125, 50), (125, 50)),
        (_jpeg(1024, 1024), (1024, 1024)),
        (_jpeg(640, 480, jfif=False), (640, 480)),
        (_webp_vp8x(2048, 4096), (2048, 4096)),
        (_webp_vp8l(512, 512), (512, 512)),
        (_webp_vp8(800, 600), (800, 600)),
        (_webp_vp8(800, 600, key_frame=False), (0, 0)),
    ],
)
def test_image_size(data: bytes, size: tuple[int, int]) -> None:
    assert image_size(data) == size
    assert data_url_image_size(_data_url(data)) == size


@pytest.mark.parametrize(
    "data",
    [
        b"BM\x00\x00",  # BMP is not a format the reference can decode
        _png(10, 10)[:20],  # truncated
        _png(10, 10).replace(b"IHDR", b"IHDX"),  # bad chunk / checksum
        _png(0, 10),  # non-positive dimension
        _png(10, 10, color_type=2, depth=4),  # invalid depth for RGB
        _gif(10, 10)[:15],  # incomplete color table
        b"\xff\xd8\xff\xd9",  # JPEG without SOF
        _jpeg(10, 10).replace(b"\xff\xc0", b"\xff\xc3"),  # lossless JPEG: unsupported
        _riff(b"ALPH" + struct.pack("<I", 0)),  # no VP8 chunk
    ],
)
def test_image_size_rejects(data: bytes) -> None:
    with pytest.raises(ImageSizeError):
        image_size(data)


def test_high_detail_tiles() -> None:
    assert high_detail_tiles(1024, 1024) == 4  # -> 768x768
    assert high_detail_tiles(2048, 4096) == 6  # -> 1024x2048 -> 768x1536
    assert high_detail_tiles(1000, 3000) == 8  # -> 682x2048
    assert high_detail_tiles(125, 50) == 1
    assert high_detail_tiles(0, 0) == 0


def test_image_tokens() -> None:
    remote = "https://example.com/cat.png"
    assert image_tokens(remote, "low", "gpt-4o") == 85
    assert image_tokens(remote, "low", "gpt-4o-mini-2024-07-18") == 2833
    # high/auto/absent need the size; remote images are never fetched: 0
    for detail in ("high", "auto", ""):
        assert image_tokens(remote, detail, "gpt-4o") == 0
    assert image_tokens(remote, "medium", "gpt-4o") == 0  # invalid detail
    # data URLs are sized locally
    assert image_tokens(_data_url(_gif(125, 50), "gif"), "", "gpt-4o") == 170 + 85 == 255
    assert image_tokens(_data_url(_jpeg(1024, 1024), "jpeg"), "high", "gpt-4") == 765
    assert image_tokens(_data_url(_webp_vp8x(2048, 4096), "webp"), "auto", "gpt-4o") == 1105
    assert image_tokens(_data_url(_png(1000, 3000)), "high", "gpt-4o") == 8 * 170 + 85
    assert image_tokens(_data_url(_png(1000, 3000)), "high", "gpt-4o-mini") == 8 * 5667 + 2833
    assert image_tokens(_data_url(_webp_vp8(800, 600, key_frame=False)), "high", "gpt-4o") == 85
    # low detail never looks at the data
    assert image_tokens("data:image/png;base64,!!!", "low", "gpt-4o") == 85
    # undecodable data URLs count 0
    assert image_tokens("data:image/png;base64,!!!", "high", "gpt-4o") == 0
    assert image_tokens("data:image/png;base64,QUJD", "high", "gpt-4o") == 0
    assert image_tokens("data:image/png;base64,QUJ", "high", "gpt-4o") == 0  # bad padding


def test_data_url_base64_ignores_line_breaks() -> None:
    encoded = base64.encodebytes(_png(300, 200)).decode()  # wrapped at 76 columns
    assert "\n" in encoded
    assert data_url_image_size("data:image/png;base64," + encoded) == (300, 200)


def test_message_with_data_url_image() -> None:
    msg = {
        "role": "user",
        "content": [
            {"type": "text", "text": "hello world"},
            {"type": "image_url", "image_url": {"url": _data_url(_jpeg(1024, 1024), "jpeg")}},
        ],
    }
    assert count_messages([msg], "gpt-4o") == 3 + 2 + 765 + 1 + 3


def test_counting_never_opens_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def deny(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", deny)
    monkeypatch.setattr(socket, "create_connection", deny)
    monkeypatch.setattr(socket, "getaddrinfo", deny)
    msg = {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}},
            {
                "type": "image_url",
                "image_url": {"url": "http://127.0.0.1:9/x.png", "detail": "high"},
            },
        ],
    }
    assert count_messages([msg], "gpt-4o") == 3 + 0 + 1 + 3
