"""A Python API shaped like Mistral's own client, for code outside magics.

``Mistral(api_key=...).chat.complete(model=..., messages=[...])`` and its
siblings take the same arguments as ``mistralai`` (its message, tool and
response-format classes included, and its call options ``retries``,
``server_url``, ``timeout_ms`` and ``http_headers``) and return objects read the
same way, so code written for it runs with only the import changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from typing import Any, Callable

from . import responses
from .backend import Backend, Chunk
from .client import MistralClient
from .errors import ConfigError
from .params import DEFAULT_BASE_URL, request_options
from .protocol import build_payload
from .retry import RetryPolicy
from .router import Router
from .structured import Schema
from .wire import to_wire

__all__ = ["Mistral"]

SERVERS = {"eu": DEFAULT_BASE_URL}  # the client's named servers
_CALL_OPTIONS = ("retries", "server_url", "timeout_ms", "http_headers")


class Chat:
    """``client.chat``: complete, stream and parse, sync and async."""

    def __init__(self, owner: Mistral) -> None:
        self._owner = owner

    def complete(self, *, model: str, messages: list[Any], **options: Any) -> responses.ChatCompletionResponse:
        """Return the whole reply."""
        backend, body = self._owner._call(model, messages, options, stream=False)
        return responses.completion(backend.chat(body))

    def stream(self, *, model: str, messages: list[Any], **options: Any) -> EventStream:
        """Return an iterator of events, one per chunk, as they arrive."""
        backend, body = self._owner._call(model, messages, options, stream=True)
        return EventStream(backend.stream_chat(body))

    async def complete_async(self, *, model: str, messages: list[Any],
                             **options: Any) -> responses.ChatCompletionResponse:
        """Async twin of :meth:`complete`."""
        backend, body = self._owner._call(model, messages, options, stream=False)
        return responses.completion(await backend.achat(body))

    async def stream_async(self, *, model: str, messages: list[Any], **options: Any) -> AsyncEventStream:
        """Async twin of :meth:`stream`: await it, then ``async for`` over it."""
        backend, body = self._owner._call(model, messages, options, stream=True)
        return AsyncEventStream(backend.astream_chat(body))

    def parse(self, response_format: type, **options: Any) -> responses.ChatCompletionResponse:
        """:meth:`complete` asking for JSON matching a pydantic class; ``message.parsed`` is an instance of it."""
        schema = Schema.of_model(response_format)
        reply = self.complete(**options, response_format=schema.response_format())
        return responses.completion(reply.model_dump(), _parser(response_format))

    async def parse_async(self, response_format: type, **options: Any) -> responses.ChatCompletionResponse:
        """Async twin of :meth:`parse`."""
        schema = Schema.of_model(response_format)
        reply = await self.complete_async(**options, response_format=schema.response_format())
        return responses.completion(reply.model_dump(), _parser(response_format))

    def parse_stream(self, response_format: type, **options: Any) -> EventStream:
        """:meth:`stream` asking for JSON matching a pydantic class; the chunks carry its text."""
        return self.stream(**options, response_format=Schema.of_model(response_format).response_format())

    async def parse_stream_async(self, response_format: type, **options: Any) -> AsyncEventStream:
        """Async twin of :meth:`parse_stream`."""
        return await self.stream_async(**options, response_format=Schema.of_model(response_format).response_format())


def _parser(model: Any) -> Callable[[str], Any]:
    return model.model_validate_json  # type: ignore[no-any-return]


class EventStream:
    """Events of a streamed reply; a context manager that closes the connection."""

    def __init__(self, chunks: Generator[Chunk, None, None]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[responses.CompletionEvent]:
        return (responses.event(chunk) for chunk in self._chunks)

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

    def __aiter__(self) -> AsyncIterator[responses.CompletionEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[responses.CompletionEvent]:
        async for chunk in self._chunks:
            yield responses.event(chunk)

    async def __aenter__(self) -> AsyncEventStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._chunks.aclose()


class Models:
    """``client.models``: what the key can use. Each method takes the call options too."""

    def __init__(self, owner: Mistral) -> None:
        self._owner = owner

    def list(self, **call: Any) -> responses.ModelList:
        """The models the key can use (``GET /v1/models``), then the embedded one if installed."""
        return responses.model_list({"object": "list", "data": self._owner._backend(_only_call(call)).list_models()})

    async def list_async(self, **call: Any) -> responses.ModelList:
        """Async twin of :meth:`list`."""
        return await asyncio.to_thread(self.list, **call)

    def retrieve(self, *, model_id: str, **call: Any) -> responses.BaseModelCard:
        """One model's card (``GET /v1/models/{model_id}``); for a model in the kernel, its card."""
        from .local import is_local

        options = _only_call(call)
        if is_local(model_id) or self._owner._routed.offline():
            cards = [card for card in self._owner._backend(options).list_models() if card.get("id") == model_id]
            if not cards:
                raise ConfigError(f"no model {model_id} here: client.models.list() shows the ones there are.")
            return responses.model_card(cards[0])
        return responses.model_card(self._owner._http(options).call("GET", f"/v1/models/{model_id}"))

    async def retrieve_async(self, *, model_id: str, **call: Any) -> responses.BaseModelCard:
        """Async twin of :meth:`retrieve`."""
        return await asyncio.to_thread(lambda: self.retrieve(model_id=model_id, **call))


def _only_call(call: dict[str, Any]) -> dict[str, Any]:
    """A models method's keyword arguments, which can only be call options."""
    options = call_options(call)
    if call:
        raise TypeError(f"unexpected keyword argument {next(iter(call))!r}")
    return options


class Mistral:
    """Entry point, as in ``mistralai``: ``Mistral(api_key=...)``, also as ``with`` or ``async with``.

    ``server_url`` (or ``server="eu"``) falls back to ``$MISTRAL_BASE_URL``, then
    https://api.mistral.ai; ``api_key`` falls back to ``$MISTRAL_API_KEY`` when a
    request is made. ``timeout_ms`` and ``retry_config`` (the client's
    ``RetryConfig``) apply to every call, and each call may set its own.
    ``model="local:..."`` runs an open-weight model in this process, and with no
    key for the hosted API the embedded ``local:smollm2`` answers (README,
    "Offline"). ``dialect="openai"`` talks to vLLM, Ollama or llama.cpp's server.
    """

    def __init__(self, api_key: str | None = None, server: str | None = None, server_url: str | None = None, *,
                 timeout_ms: int | None = None, retry_config: Any = None, timeout: float = 120.0,
                 dialect: str = "mistral") -> None:
        if server is not None and server not in SERVERS:
            raise ConfigError(f"unknown server {server!r}: use {', '.join(map(repr, SERVERS))} or server_url.")
        url = server_url or (SERVERS[server] if server else None)
        seconds = timeout_ms / 1000 if timeout_ms is not None else timeout
        self._client = MistralClient(api_key, base_url=url, read_timeout=seconds, dialect=dialect,
                                     retry=retry_policy(retry_config))
        self._routed = Router(lambda: self._client)
        self.chat = Chat(self)
        self.models = Models(self)

    def __repr__(self) -> str:
        return f"Mistral(server_url={self._client.base_url!r})"

    def __enter__(self) -> Mistral:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    async def __aenter__(self) -> Mistral:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._client.close()

    def _call(self, model: str, messages: list[Any], options: dict[str, Any], *,
              stream: bool) -> tuple[Backend, dict[str, Any]]:
        """The backend for one call (its call options applied) and its body (the rest of its options)."""
        backend = self._backend(call_options(options))
        body = {name: to_wire(value) for name, value in options.items()}
        return backend, build_payload(model, to_wire(list(messages)), request_options({}, body), stream=stream)

    def _backend(self, call: Mapping[str, Any]) -> Backend:
        """The router, or one over a variant of the client when the call sets call options."""
        http = self._http(call)
        return self._routed if http is self._client else Router(lambda: http)

    def _http(self, call: Mapping[str, Any]) -> MistralClient:
        """The HTTP client with these call options."""
        given = {name: value for name, value in call.items() if _given(value)}
        if not given:
            return self._client
        timeout_ms = given.get("timeout_ms")
        return self._client.variant(base_url=given.get("server_url"),
                                    read_timeout=timeout_ms / 1000 if timeout_ms is not None else None,
                                    headers=given.get("http_headers"), retry=retry_policy(given.get("retries")))


def call_options(options: dict[str, Any]) -> dict[str, Any]:
    """Take the call options (``retries``, ``server_url``, ``timeout_ms``, ``http_headers``) out of a call's
    keyword arguments: they shape the request, never its body."""
    return {name: options.pop(name) for name in _CALL_OPTIONS if name in options}


def retry_policy(config: Any) -> RetryPolicy | None:
    """The official client's ``RetryConfig`` (a ``backoff`` strategy, in milliseconds) as a policy; None (or
    the client's unset marker) keeps the default. Retries then last until ``max_elapsed_time``."""
    if not _given(config):
        return None
    if isinstance(config, RetryPolicy):
        return config
    if getattr(config, "strategy", "backoff") != "backoff":
        return RetryPolicy(retries=0)
    backoff = config.backoff
    return RetryPolicy(retries=1_000_000, max_total=backoff.max_elapsed_time / 1000,
                       initial=backoff.initial_interval / 1000, cap=backoff.max_interval / 1000,
                       exponent=backoff.exponent)


def _given(value: Any) -> bool:
    """Not None, and not the official client's marker for an argument left out."""
    return value is not None and type(value).__name__ != "Unset"
