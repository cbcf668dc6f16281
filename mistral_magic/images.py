"""``--image``: what a notebook holds as a picture, made into an ``image_url`` content chunk.

Mistral's vision models read images from the user message, as an http(s) URL
or a ``data:`` URI. A notebook's pictures are figures, PIL images, bytes and
files; each becomes one chunk here, or one line saying why it cannot, before
anything is sent. matplotlib and PIL are never imported here: an object is
recognised by its type's module and drawn by its own methods.

``plt`` means the figure the user just saw: :mod:`.figures` keeps it.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from typing import Any

__all__ = ["MAX_BYTES", "VISION_MODELS", "image_chunk", "placeholder"]

MAX_BYTES = 20 * 1024 * 1024  # the API's limit per image
VISION_MODELS = ("mistral-small-latest", "mistral-medium-latest", "pixtral-large-latest")

# The formats the API reads, by the bytes their files start with.
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
               (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
_IMAGES = "a matplotlib figure, a PIL image, PNG/JPEG/WEBP/GIF bytes, a file path or an http(s) URL"


def image_chunk(value: Any, given: str) -> dict[str, Any]:
    """The ``image_url`` chunk for ``value`` (what ``given`` named); ``ValueError`` says why not."""
    return {"type": "image_url", "image_url": {"url": _url(value, given)}}


def placeholder(chunk: dict[str, Any]) -> str:
    """How an image shows in a transcript: its kind and size, or its URL; never its base64."""
    url = chunk.get("image_url")
    url = url.get("url", "") if isinstance(url, dict) else str(url or "")
    if not url.startswith("data:"):
        return f"[image: {url}]"
    kind, _, data = url[5:].partition(";base64,")
    return f"[image: {kind}, {_size(len(data) * 3 // 4)}]"


def _url(value: Any, given: str) -> str:
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.startswith(("http://", "https://")):
            return text
        if isinstance(text, str) and text.startswith("data:image/"):
            return _checked_data_uri(text, given)
        return _data_uri(_read(Path(os.fsdecode(text)).expanduser(), given), given)
    return _data_uri(_bytes_of(value, given), given)


def _bytes_of(value: Any, given: str) -> bytes:
    """The encoded image of a figure, a PIL image, an IPython ``Image`` or raw bytes."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    module = type(value).__module__
    if module.startswith("matplotlib.") and hasattr(value, "savefig"):
        return _figure_png(value, given)
    if module.startswith("PIL.") and hasattr(value, "save"):
        return _pil_png(value)
    if module.startswith("IPython.") and isinstance(getattr(value, "data", None), bytes):
        return bytes(value.data)
    raise ValueError(f"--image {given}: a value of type {type(value).__name__} is not an image; give {_IMAGES}.")


def _figure_png(figure: Any, given: str) -> bytes:
    if not figure.axes and not figure.texts and not figure.images:
        raise ValueError(f"--image {given}: the figure is empty; plot something first.")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _pil_png(image: Any) -> bytes:
    if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA")  # CMYK, YCbCr and the like have no PNG form
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _read(path: Path, given: str) -> bytes:
    if not path.is_file():
        raise ValueError(f"--image {given}: no file or variable named {str(path)!r}.")
    _check_size(path.stat().st_size, given)
    return path.read_bytes()


def _data_uri(data: bytes, given: str) -> str:
    kind = _kind(data)
    if kind is None:
        raise ValueError(f"--image {given}: these bytes are not a PNG, JPEG, WEBP or GIF image.")
    _check_size(len(data), given)
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def _checked_data_uri(uri: str, given: str) -> str:
    """A ``data:`` URI given as is: one of the API's formats, in base64, and not too large."""
    kind, base64_marker, data = uri[5:].partition(";base64,")
    if not base64_marker or kind not in {kind for _, kind in _SIGNATURES} | {"image/webp"}:
        raise ValueError(f"--image {given}: a data URI must be data:image/png, jpeg, webp or gif;base64,…")
    _check_size(len(data) * 3 // 4, given)
    return uri


def _check_size(size: int, given: str) -> None:
    if size > MAX_BYTES:
        raise ValueError(f"--image {given}: the image is {_size(size)}; the API takes at most "
                         f"{_size(MAX_BYTES)} an image.")


def _kind(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for signature, kind in _SIGNATURES if data.startswith(signature)), None)


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB" if count >= 1024 * 1024 else f"{max(1, round(count / 1024))} KB"
