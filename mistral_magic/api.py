"""A Python API shaped like Mistral's own client, for code outside magics.

``Mistral(api_key=...).chat.complete(model=..., messages=[...])`` and its
``stream``, ``stream_async`` and ``complete_async`` siblings take the same
arguments as ``mistralai`` and return objects read the same way
(``response.choices[0].message.content``, ``event.data.choices[0].delta.content``),
so code written for it runs with only the import changed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

from .backend import Backend, Chunk
from .client import MistralClient
from .params import request_options
from .protocol import build_payload
from .router import Router

__all__ = ["Mistral", "Record"]


class Record(dict):  # type: ignore[type-arg]
    """A JSON object read by attribute; absent fields read as None, like the
    optional fields of the official client's models."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        # Keys first, without the failed attribute lookup that ``__getattr__`` waits for:
        # that miss cost more than the rest of reading a streamed chunk.
        if name in _DICT_NAMES:
            return object.__getattribute__(self, name)
        return _wrap(dict.get(self, name))

    def __repr__(self) -> str:
        return f"Record({dict.__repr__(self)})"


_DICT_NAMES = frozenset(dir(Record))  # methods and dunders keep their dict meaning


def _wrap(value: Any) -> Any:
    kind = value.__class__
    if kind is Record or not isinstance(value, (dict, list)):
        return value
    if isinstance(value, dict):
        return Record(value)
    return [_wrap(item) for item in value]


class Event:
    """One streamed chunk, as ``event.data``."""

    __slots__ = ("data",)

    def __init__(self, chunk: dict[str, Any]) -> None:
        self.data = Record(chunk)

    def __repr__(self) -> str:
        return f"Event(data={self.data!r})"


class Chat:
    """``client.chat``: complete and stream, sync and async."""

    def __init__(self, client: Backend) -> None:
        self._client = client

    def complete(self, *, model: str, messages: list[Any], **options: Any) -> Record:
        """Return the whole reply."""
        return Record(self._client.chat(_body(model, messages, options, stream=False)))

    def stream(self, *, model: str, messages: list[Any], **options: Any) -> EventStream:
        """Return an iterator of events, one per chunk, as they arrive."""
        return EventStream(self._client.stream_chat(_body(model, messages, options, stream=True)))

    async def complete_async(self, *, model: str, messages: list[Any], **options: Any) -> Record:
        """Async twin of :meth:`complete`."""
        return Record(await self._client.achat(_body(model, messages, options, stream=False)))

    async def stream_async(self, *, model: str, messages: list[Any], **options: Any) -> AsyncEventStream:
        """Async twin of :meth:`stream`: await it, then ``async for`` over it."""
        return AsyncEventStream(self._client.astream_chat(_body(model, messages, options, stream=True)))


def _body(model: str, messages: list[Any], options: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The request body of a call, its options read as a cell's flags are (no settings behind them)."""
    return build_payload(model, messages, request_options({}, options), stream=stream)


class EventStream:
    """Events of a streamed reply; a context manager that closes the connection."""

    def __init__(self, chunks: Generator[Chunk, None, None]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[Event]:
        return (Event(chunk) for chunk in self._chunks)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._chunks.close()


class AsyncEventStream:
    """Async events of a streamed reply; an async context manager."""

    def __init__(self, chunks: AsyncGenerator[Chunk, None]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        async for chunk in self._chunks:
            yield Event(chunk)

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._chunks.aclose()


class Models:
    """``client.models``: what the key can use."""

    def __init__(self, client: Backend) -> None:
        self._client = client

    def list(self) -> Record:
        return Record({"object": "list", "data": self._client.list_models()})


class Mistral:
    """Entry point, as in ``mistralai``: ``Mistral(api_key=...)``.

    ``server_url`` falls back to ``$MISTRAL_BASE_URL``, then https://api.mistral.ai;
    ``api_key`` falls back to ``$MISTRAL_API_KEY`` when a request is made.
    ``model="local:..."`` runs an open-weight model in this process, and with no
    key for the hosted API the embedded ``local:smollm2`` answers (README,
    "Offline"). ``dialect="openai"`` talks to vLLM, Ollama or llama.cpp's server.
    """

    def __init__(self, api_key: str | None = None, server_url: str | None = None, *,
                 timeout: float = 120.0, dialect: str = "mistral") -> None:
        self._client = MistralClient(api_key, base_url=server_url, read_timeout=timeout, dialect=dialect)
        routed = Router(lambda: self._client)
        self.chat = Chat(routed)
        self.models = Models(routed)

    def __repr__(self) -> str:
        return f"Mistral(server_url={self._client.base_url!r})"

    def __enter__(self) -> Mistral:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
