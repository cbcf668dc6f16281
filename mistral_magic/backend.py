"""What a chat backend offers: the contract the front ends are written against.

The hosted API over HTTP (:class:`~.client.MistralClient`), a model in this
process (:class:`~.local.LocalModel`) and the :class:`~.router.Router` that
picks between them all conform, so a cell, the panel, ``--compare`` and the
Python API never need to know which one answers. Nothing here imports httpx.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

if TYPE_CHECKING:
    from .retry import Pace

__all__ = ["Backend", "Chunk", "OnStatus", "Payload"]

Payload = dict[str, Any]
"""A request body of ``/v1/chat/completions``, in Mistral's form."""

Chunk = dict[str, Any]
"""One streamed chunk, or a whole response, as the API's JSON."""

OnStatus = Optional[Callable[[str], None]]
"""Told, in a few words, why a reply is not here yet: retrying after a 429, loading a model."""


class Backend(Protocol):
    """Answers chat requests, streamed or whole, sync or async; lists its models."""

    def stream_chat(self, payload: Payload, on_status: OnStatus = None
                    ) -> Generator[Chunk, None, None]:
        """Yield the reply's chunks as they arrive; closing the generator ends the request."""
        ...

    def chat(self, payload: Payload, on_status: OnStatus = None, pace: Pace | None = None) -> Chunk:
        """Return the whole response; ``pace``, shared by one job's requests, holds them all back after a 429."""
        ...

    def astream_chat(self, payload: Payload, on_status: OnStatus = None
                     ) -> AsyncGenerator[Chunk, None]:
        """Async twin of :meth:`stream_chat`."""
        ...

    async def achat(self, payload: Payload, on_status: OnStatus = None) -> Chunk:
        """Async twin of :meth:`chat`."""
        ...

    def list_models(self) -> list[Chunk]:
        """The model cards this backend can answer for, as ``/v1/models`` lists them."""
        ...

    def wire(self, payload: Payload) -> Payload:
        """The body as it will be sent, for ``--dry-run``: a dialect may rewrite it."""
        ...

    def notes(self, payload: Payload) -> list[str]:
        """What to tell the user about how this request is served, each thing once."""
        ...

    def cut_streams(self, threads: Iterable[threading.Thread]) -> None:
        """End now the streamed replies these threads are reading, rather than at their next chunk."""
        ...

    def close(self) -> None:
        """Release connections (or memory); the backend can still be used afterwards."""
        ...
