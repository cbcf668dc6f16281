"""Request bodies encoded a message at a time, as they are sent.

A long conversation encoded whole is one string and then one bytes object,
each the size of the history, on every request; the allocator keeps such peaks
long after they are freed, so a kernel grows by them. Encoded a message at a
time, no piece is larger than one message and each is freed once it is sent.
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Iterator

__all__ = ["JSONBody"]

_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode  # ASCII: characters are bytes


class JSONBody:
    """The JSON of ``payload``, iterable again for each retry; ``len()`` is its size in bytes.

    Pass it to httpx as ``content=`` with a ``Content-Length`` header (no
    chunked upload: some servers refuse one). ``httpx.AsyncClient`` takes
    :meth:`asynchronous`.
    """

    def __init__(self, payload: dict[str, Any]) -> None:
        self._payload = payload
        self._length = sum(map(len, self))

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        messages = self._payload.get("messages")
        if not isinstance(messages, list):
            yield _encode(self._payload).encode()
            return
        rest = _encode({name: value for name, value in self._payload.items() if name != "messages"})
        yield f'{rest[:-1]}{"," if len(rest) > 2 else ""}"messages":['.encode()
        for index, message in enumerate(messages):
            yield f'{"," if index else ""}{_encode(message)}'.encode()
        yield b"]}"

    def asynchronous(self) -> _AsyncBody:
        return _AsyncBody(self)


class _AsyncBody:
    """The same pieces as an async iterable, which ``httpx.AsyncClient`` requires."""

    def __init__(self, body: JSONBody) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._body:
            yield piece
