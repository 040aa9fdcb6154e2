"""Width and height of an image from its header bytes, without decoding pixels.

Used for ``data:image/...;base64,`` URLs in chat messages, which the reference
sizes locally (Go's ``image.DecodeConfig`` with the GIF, JPEG, PNG and WebP
decoders registered). The format is chosen by the same magic prefixes, and the
header checks that make Go reject a file are repeated here, so an image the
reference cannot size is also rejected here (:class:`ImageSizeError`).
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import zlib


class ImageSizeError(ValueError):
    """The bytes are not an image whose size can be read."""


# The reference strips every occurrence of this prefix before base64-decoding.
_DATA_URL_PREFIX = re.compile(r"data:image/([^;]+);base64,")


def data_url_image_size(url: str) -> tuple[int, int]:
    """Size of the image in a ``data:image/<type>;base64,<data>`` URL."""
    payload = _DATA_URL_PREFIX.sub("", url)
    # Go's StdEncoding ignores CR and LF but is otherwise strict (padding required).
    if "\r" in payload or "\n" in payload:
        payload = payload.replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageSizeError(f"invalid base64 image data: {exc}") from exc
    return image_size(raw)


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of a GIF, JPEG, PNG or WebP image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_size(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif_size(data)
    if data[:4] == b"RIFF" and data[8:15] == b"WEBPVP8":
        return _webp_size(data)
    raise ImageSizeError("unknown image format")


def _need(data: bytes, end: int) -> None:
    if len(data) < end:
        raise ImageSizeError("truncated image header")


# --- PNG ---------------------------------------------------------------------------

_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _png_chunk(data: bytes, pos: int) -> tuple[bytes, bytes, int]:
    _need(data, pos + 8)
    length, ctype = struct.unpack_from(">I4s", data, pos)
    if length > 0x7FFFFFFF:
        raise ImageSizeError("bad PNG chunk length")
    end = pos + 8 + length
    _need(data, end + 4)
    body = data[pos + 8 : end]
    (crc,) = struct.unpack_from(">I", data, end)
    if zlib.crc32(ctype + body) != crc:
        raise ImageSizeError("PNG checksum error")
    return ctype, body, end + 4


def _png_size(data: bytes) -> tuple[int, int]:
    ctype, body, pos = _png_chunk(data, 8)
    if ctype != b"IHDR" or len(body) != 13:
        raise ImageSizeError("PNG does not start with a valid IHDR chunk")
    width, height, depth, color_type, _comp, _filter, interlace = struct.unpack(">iiBBBBB", body)
    if interlace not in (0, 1):
        raise ImageSizeError("PNG: invalid interlace method")
    if depth not in _PNG_DEPTHS.get(color_type, ()):
        raise ImageSizeError("PNG: unsupported bit depth / color type")
    if width <= 0 or height <= 0:
        raise ImageSizeError("PNG: non-positive dimension")
    if color_type == 3:
        # Go's DecodeConfig needs the palette of a paletted image: read up to PLTE.
        while True:
            ctype, body, pos = _png_chunk(data, pos)
            if ctype == b"PLTE":
                entries, rest = divmod(len(body), 3)
                if rest or not 0 < entries <= min(256, 1 << depth):
                    raise ImageSizeError("PNG: bad PLTE length")
                break
            if ctype in (b"IHDR", b"IDAT", b"tRNS", b"IEND"):
                raise ImageSizeError("PNG: chunk order error")
    return width, height


# --- GIF ---------------------------------------------------------------------------


def _gif_size(data: bytes) -> tuple[int, int]:
    _need(data, 13)
    width, height, fields = struct.unpack_from("<HHB", data, 6)
    if fields & 0x80:  # a global color table follows and must be complete
        _need(data, 13 + 3 * (1 << (1 + (fields & 7))))
    return width, height


# --- JPEG --------------------------------------------------------------------------

_SOF_BASELINE, _SOF_EXTENDED, _SOF_PROGRESSIVE = 0xC0, 0xC1, 0xC2
_SOS, _EOI, _APP0, _APP15 = 0xDA, 0xD9, 0xE0, 0xEF
_IGNORED = frozenset({0xC4, 0xDB, 0xDD, 0xFE})  # DHT, DQT, DRI, COM


def _jpeg_sof(seg: bytes) -> tuple[int, int]:
    n = len(seg)
    if n not in (6 + 3, 6 + 9, 6 + 12):
        raise ImageSizeError("JPEG: unsupported number of components")
    precision, height, width, ncomp = struct.unpack_from(">BHHB", seg)
    if precision != 8:
        raise ImageSizeError("JPEG: unsupported precision")
    if ncomp != (n - 6) // 3:
        raise ImageSizeError("JPEG: SOF has wrong length")
    seen: set[int] = set()
    for i in range(ncomp):
        cid, hv, tq = seg[6 + 3 * i : 9 + 3 * i]
        if cid in seen:
            raise ImageSizeError("JPEG: repeated component identifier")
        seen.add(cid)
        if tq > 3:
            raise ImageSizeError("JPEG: bad Tq value")
        h, v = hv >> 4, hv & 0x0F
        if not (1 <= h <= 4 and 1 <= v <= 4) or h == 3 or v == 3:
            raise ImageSizeError("JPEG: unsupported subsampling ratio")
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    size: tuple[int, int] | None = None
    jfif = False
    while True:
        _need(data, pos + 2)
        b0, b1 = data[pos], data[pos + 1]
        pos += 2
        while b0 != 0xFF:  # stray bytes between segments are skipped, as Go does
            _need(data, pos + 1)
            b0, b1 = b1, data[pos]
            pos += 1
        marker = b1
        if marker == 0:
            continue
        while marker == 0xFF:
            _need(data, pos + 1)
            marker = data[pos]
            pos += 1
        if marker == _EOI:
            raise ImageSizeError("JPEG: missing SOS marker")
        if 0xD0 <= marker <= 0xD7:  # restart markers have no length
            continue
        _need(data, pos + 2)
        n = (data[pos] << 8 | data[pos + 1]) - 2
        pos += 2
        if n < 0:
            raise ImageSizeError("JPEG: short segment length")
        if marker in (_SOF_BASELINE, _SOF_EXTENDED, _SOF_PROGRESSIVE):
            if size is not None:
                raise ImageSizeError("JPEG: multiple SOF markers")
            if n not in (9, 15, 18):
                raise ImageSizeError("JPEG: unsupported number of components")
            _need(data, pos + n)
            size = _jpeg_sof(data[pos : pos + n])
            if jfif:
                return size
        elif marker == _SOS:
            if size is None:
                raise ImageSizeError("JPEG: missing SOF marker")
            return size
        elif marker == _APP0:
            if n >= 5:
                _need(data, pos + 5)
                jfif = data[pos : pos + 5] == b"JFIF\x00"
        elif not (_APP0 <= marker <= _APP15 or marker in _IGNORED):
            # Go skips DHT, DQT, DRI, APPn and COM while reading the header; any
            # other marker (SOF3, SOF5-15, reserved codes) is an error.
            raise ImageSizeError(f"JPEG: unsupported marker {marker:#04x}")
        pos += n
        _need(data, pos)


# --- WebP --------------------------------------------------------------------------


def _webp_size(data: bytes) -> tuple[int, int]:
    # The format sniff guarantees the first chunk is a VP8* chunk; only VP8,
    # VP8L and VP8X carry a size, other chunks are skipped as Go's RIFF reader does.
    (riff_len,) = struct.unpack_from("<I", data, 4)
    if riff_len < 4:
        raise ImageSizeError("WebP: short RIFF chunk")
    remaining, pos = riff_len - 4, 12
    while True:
        if remaining == 0:
            raise ImageSizeError("WebP: no image chunk")
        if remaining < 8:
            raise ImageSizeError("WebP: short chunk header")
        _need(data, pos + 8)
        fourcc, chunk_len = struct.unpack_from("<4sI", data, pos)
        pos += 8
        remaining -= 8
        if chunk_len > remaining:
            raise ImageSizeError("WebP: chunk too long")
        body = data[pos : pos + chunk_len]
        if fourcc == b"VP8 ":
            if chunk_len >= 1 << 31:
                raise ImageSizeError("WebP: invalid format")
            return _vp8_size(body)
        if fourcc == b"VP8L":
            return _vp8l_size(body)
        if fourcc == b"VP8X":
            if chunk_len != 10:
                raise ImageSizeError("WebP: invalid VP8X chunk")
            _need(body, 10)
            return (
                int.from_bytes(body[4:7], "little") + 1,
                int.from_bytes(body[7:10], "little") + 1,
            )
        if fourcc == b"ALPH":  # an alpha chunk is only valid after VP8X
            raise ImageSizeError("WebP: unexpected ALPH chunk")
        padded = chunk_len + (chunk_len & 1)
        pos += padded
        remaining -= min(padded, remaining)


def _vp8_size(body: bytes) -> tuple[int, int]:
    _need(body, 3)
    if body[0] & 1:  # not a key frame: Go reports a 0x0 frame without error
        return 0, 0
    _need(body, 10)
    if body[3:6] != b"\x9d\x01\x2a":
        raise ImageSizeError("VP8: invalid format")
    width = (body[7] & 0x3F) << 8 | body[6]
    height = (body[9] & 0x3F) << 8 | body[8]
    return width, height


def _vp8l_size(body: bytes) -> tuple[int, int]:
    _need(body, 5)
    if body[0] != 0x2F:
        raise ImageSizeError("VP8L: invalid header")
    (bits,) = struct.unpack_from("<I", body, 1)
    if (bits >> 29) & 7:
        raise ImageSizeError("VP8L: invalid version")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
