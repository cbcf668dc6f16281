"""How a script puts its response on the socket: status, headers, JSON, SSE events, faults.

Why apart from the handler: scripts write through this small interface (send, write, pause,
hang up, cut, SSE events framed like api.mistral.ai) and never touch the HTTP machinery,
so a new reply or fault needs no server change, and a Capture can keep what they send.
"""
from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import MistralServer, _Handler


def compact(obj: Any) -> str:
    """JSON the way api.mistral.ai sends it: no spaces after separators, raw UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _merge_headers(base: dict[str, str], extra: dict[str, Any]) -> dict[str, str]:
    """Overlay headers case-insensitively, so a script can replace any default header."""
    merged = dict(base)
    for name, value in extra.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = str(value)
    return merged


def _has_header(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name for k in headers)


class Exchange:
    """One request being answered; scripts write their response through it."""

    def __init__(self, handler: _Handler, body: dict) -> None:
        self.handler = handler
        self._begin(handler.server.owner, body)

    def _begin(self, server: MistralServer, body: dict) -> None:
        self.server = server
        self.body = body
        self.id = uuid.uuid4().hex
        self.created = int(time.time())

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    def start(self, status: int, headers: dict | None = None, *,
              content_type: str | None = None, length: int | None = None) -> None:
        """Send status and headers. Without Content-Length the body is framed by closing the connection."""
        merged = self.server._rate_limit_headers(self.body)
        if content_type:
            merged["Content-Type"] = content_type
        if length is not None:
            merged["Content-Length"] = str(length)
        merged = _merge_headers(merged, headers or {})
        if not _has_header(merged, "content-length"):
            merged = _merge_headers(merged, {"Connection": "close"})
        self.handler.send_response(status)
        for name, value in merged.items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def send_bytes(self, status: int, data: bytes, content_type: str | None, headers: dict | None = None) -> None:
        self.start(status, headers, content_type=content_type, length=len(data))
        self.write(data)

    def send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self.send_bytes(status, compact(obj).encode(), "application/json", headers)

    def write(self, data: bytes) -> None:
        """Write and flush at once, so every part reaches the client as its own TCP write."""
        self.handler.wfile.write(data)
        self.handler.wfile.flush()

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server stops. False means: stop writing."""
        if seconds <= 0:
            return not self.server._stopping.is_set()
        return not self.server._stopping.wait(seconds)

    def hang_up(self) -> None:
        """Close the connection after the handler returns, sending nothing more."""
        self.handler.close_connection = True

    def cut(self) -> None:
        """Close the socket abruptly, mid-response."""
        self.hang_up()
        with contextlib.suppress(OSError):
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        self.handler.connection.close()


class Capture(Exchange):
    """An exchange without a socket that keeps the status and body a script sends.

    Batch lines (batch.py) are answered by the chat route's own checks and replies through it,
    always as JSON: a batch result is never a stream.
    """

    def __init__(self, server: MistralServer, body: dict) -> None:
        self._begin(server, body)
        self.status = 0
        self.data = b""

    @property
    def stream(self) -> bool:
        return False

    def start(self, status: int, headers: dict | None = None, *,
              content_type: str | None = None, length: int | None = None) -> None:
        self.status = status

    def write(self, data: bytes) -> None:
        self.data += data

    def hang_up(self) -> None:
        """Nothing to close."""

    def cut(self) -> None:
        """Nothing to cut."""


def _padding() -> str:
    """Random-length filler like the real `p` key (§6.2), which clients must ignore."""
    pad = uuid.uuid4().hex
    return pad[: 4 + int(pad[0], 16)]


class SseWriter:
    """Writes SSE events as api.mistral.ai frames them (§6.1), one write+flush per event."""

    def __init__(self, ex: Exchange, *, crlf: bool = False, comments: bool = False, padding: bool = False) -> None:
        self.ex = ex
        self.eol = "\r\n" if crlf else "\n"
        self.comments = comments
        self.padding = padding
        self.sent = 0

    def open(self, headers: dict | None = None) -> None:
        self.ex.start(200, headers, content_type="text/event-stream")

    def send(self, data: str) -> None:
        if self.comments and self.sent:
            self.ex.write(f": ping{self.eol}{self.eol}".encode())
        self.ex.write(f"data: {data}{self.eol}{self.eol}".encode())
        self.sent += 1

    def chunk(self, delta: dict, finish_reason: str | None = None, usage: dict | None = None) -> None:
        event: dict[str, Any] = {
            "id": self.ex.id, "object": "chat.completion.chunk", "created": self.ex.created,
            "model": self.ex.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if usage is not None:
            event["usage"] = usage
        if self.padding:
            event["p"] = _padding()
        self.send(compact(event))

    def done(self) -> None:
        self.send("[DONE]")
