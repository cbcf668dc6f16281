"""The images of image_url chunks (§4.2): what the API accepts, and how the echo describes them.

Why: the client turns figures, files and bytes into data: URIs, and a broken one must fail
here as it would on api.mistral.ai (not base64, not the format it claims, over 20 MB), while
a good one is described by its type and pixel size so a test sees it arrived intact.
http(s) URLs are accepted as they are and never fetched.
"""
from __future__ import annotations

import base64
import binascii
import re
import struct
from typing import Any

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # "max 20 MB per image" (§4.2)
DATA_URI = re.compile(r"data:image/(png|jpeg|gif|webp);base64,(.*)", re.DOTALL)
SIGNATURES = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",), "gif": (b"GIF87a", b"GIF89a")}
# JPEG start-of-frame markers, which carry the size; C4, C8 and CC are other segments.
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class ImageError(ValueError):
    """Why the API refuses an image; §4.2 gives the rules but no wording, so the texts are short and plain."""


def image_urls(content: Any) -> list[str]:
    """The URL (or data: URI) of each image_url chunk of a message content, in order."""
    if not isinstance(content, list):
        return []
    images = [c.get("image_url") for c in content if isinstance(c, dict) and c.get("type") == "image_url"]
    return [image.get("url", "") if isinstance(image, dict) else str(image) for image in images]


def decode(url: str) -> tuple[str, bytes] | None:
    """The format and bytes a data: URI carries, None for an http(s) URL; ImageError if unusable."""
    if url.startswith(("http://", "https://")):
        return None
    match = DATA_URI.fullmatch(url)
    if match is None:
        raise ImageError("Image URL must be an http(s) URL or data:image/<png|jpeg|gif|webp>;base64,<data>")
    fmt = match.group(1)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except binascii.Error:
        raise ImageError("Image data is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(f"Image is larger than 20 MB ({len(data)} bytes)")
    if not _is_format(fmt, data):
        raise ImageError(f"Image data is not a valid image/{fmt} image")
    return fmt, data


def describe(url: str) -> str:
    """`image/png 640×480` for a data: URI (the size when the header gives it), else the URL itself."""
    decoded = decode(url)
    if decoded is None:
        return url
    fmt, data = decoded
    size = _dimensions(fmt, data)
    return f"image/{fmt} {size[0]}×{size[1]}" if size else f"image/{fmt}"


def _is_format(fmt: str, data: bytes) -> bool:
    if fmt == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(SIGNATURES[fmt])


def _dimensions(fmt: str, data: bytes) -> tuple[int, int] | None:
    """Width and height from the file header, None if it is cut short or unusual."""
    try:
        if fmt == "png":
            return struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else None
        if fmt == "gif":
            return struct.unpack("<HH", data[6:10])
        if fmt == "jpeg":
            return _jpeg_dimensions(data)
        return _webp_dimensions(data)
    except struct.error:
        return None


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments to the first start-of-frame, which holds height then width."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # segments without a length
            i += 2
        elif marker in JPEG_SOF:
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        else:
            i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    """The three WEBP encodings keep the size in different places after the first chunk tag."""
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, (bits >> 14 & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None
