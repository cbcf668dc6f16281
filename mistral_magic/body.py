"""Request bodies encoded a message at a time, as they are sent.

A long conversation encoded whole is one string and then one bytes object,
each the size of the history, on every request; the allocator keeps such peaks
long after they are freed, so a kernel grows by them. Encoded a message at a
time, a piece is about 64 kB (or one message, if longer), freed once it is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

__all__ = ["JSONBody"]

_PIECE = 1 << 16
_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # ASCII: characters are bytes


class JSONBody:
    """The JSON of ``payload``, iterable again for each retry; ``len()`` is its size in bytes.

    Pass it to httpx as ``content=`` with a ``Content-Length`` header: a
    length, not a chunked upload, which not every server accepts. Counting it
    encodes the messages once more (about 4 ms per MB), cheaper than holding
    them all. ``httpx.AsyncClient`` takes :meth:`asynchronous`.
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        self._length = sum(map(len, self))

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        """Pieces of about 64 kB: one write each, and a short body is a single write."""
        batch: list[str] = []
        size = 0
        for text in self._texts():
            batch.append(text)
            size += len(text)
            if size >= _PIECE:
                yield "".join(batch).encode()
                batch, size = [], 0
        yield "".join(batch).encode()

    def _texts(self) -> Iterator[str]:
        """The JSON in order, a field or one message at a time."""
        yield "{"
        for index, (name, value) in enumerate(self._payload.items()):
            yield f'{"," if index else ""}{_encode(name)}:'
            if name == "messages" and isinstance(value, list):
                yield "["
                for position, message in enumerate(value):
                    yield f'{"," if position else ""}{_encode(message)}'
                yield "]"
            else:
                yield _encode(value)
        yield "}"

    def asynchronous(self) -> _AsyncBody:
        return _AsyncBody(self)


class _AsyncBody:
    """The same pieces as an async iterable, which ``httpx.AsyncClient`` requires."""

    def __init__(self, body: JSONBody) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._body:
            yield piece
