"""Server-sent-event framing: text as it arrives in, event data and then chunks out.

Lines end at CR, LF or CRLF only. ``str.splitlines`` (and so httpx's
``iter_lines``) also splits on U+2028, U+0085 and friends, which cuts the JSON
strings that models do emit, so the framing is done here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .errors import APIConnectionError, StreamError
from .protocol import DONE, parse_chunk

__all__ = ["ChunkReader", "EventDecoder"]

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventDecoder:
    """Turn text pieces into the ``data`` of complete events, however it is split."""

    def __init__(self) -> None:
        self._tail = ""
        self._data: list[str] = []
        self._started = False

    def feed(self, text: str) -> list[str]:
        """Return the data of every event that ``text`` completes."""
        if not self._started:
            self._started = True
            text = text.removeprefix("\ufeff")
        buffer = self._tail + text
        # A CR at the very end may be the first half of a CRLF: decide next time.
        held = "\r" if buffer.endswith("\r") else ""
        *lines, tail = _LINE_END.split(buffer[: len(buffer) - len(held)])
        self._tail = tail + held
        return self._take(lines)

    def close(self) -> list[str]:
        """Return an event left unterminated at end of stream, as Mistral's client does."""
        lines = [self._tail.rstrip("\r"), ""] if self._tail else [""]
        self._tail = ""
        return self._take(lines)

    def _take(self, lines: list[str]) -> list[str]:
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append("\n".join(self._data))
                    self._data = []
            elif line[0] != ":":
                field, _, value = line.partition(":")
                if field == "data":
                    self._data.append(value[1:] if value[:1] == " " else value)
        return events


class ChunkReader:
    """A response body's text in, chunk dicts out; an error if the stream ends before ``[DONE]``."""

    def __init__(self, content_type: str, base_url: str) -> None:
        kind = content_type.split(";")[0].strip()
        if kind != "text/event-stream":
            raise StreamError(f"expected an event stream, got {kind or 'no content type'}.")
        self._base_url = base_url
        self._decoder = EventDecoder()
        self.done = False

    def feed(self, text: str) -> Iterator[dict[str, Any]]:
        return self._take(self._decoder.feed(text))

    def close(self) -> Iterator[dict[str, Any]]:
        yield from self._take(self._decoder.close())
        if not self.done:
            raise APIConnectionError(
                f"the connection to {self._base_url} closed before the reply was complete. "
                "Re-run the cell."
            )

    def _take(self, events: list[str]) -> Iterator[dict[str, Any]]:
        # One at a time, so chunks before a bad one in the same read still arrive.
        for data in events:
            if data == DONE:
                self.done = True
                return
            yield parse_chunk(data)
