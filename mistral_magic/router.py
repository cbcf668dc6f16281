"""The backend the front ends are given: each request to the backend its model names.

``local:`` models run in this process (:mod:`.local`); the rest go over HTTP
(:class:`~.client.MistralClient`). With no key for the hosted API and the
embedded model installed, requests for Mistral models are answered offline by
``local:smollm2``, so a notebook runs on a machine with no key and no network.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Generator, Iterable
from typing import TYPE_CHECKING, Callable

from .backend import Backend, Chunk, OnStatus, Payload
from .errors import ConfigError
from .params import DEFAULT_BASE_URL

if TYPE_CHECKING:
    from .client import MistralClient
    from .retry import Pace

__all__ = ["MISTRAL_FAMILIES", "Router", "offline_note"]

# The beginnings of Mistral's model names: offline, only these are answered in their place.
MISTRAL_FAMILIES = ("mistral", "open-mistral", "open-mixtral", "open-codestral", "ministral", "magistral",
                    "codestral", "devstral", "pixtral", "voxtral", "mathstral")


def offline_note(model: str, key_env: str) -> str:
    """What the footer says when the embedded model answers a request for ``model``."""
    from .local import EMBEDDED

    return f"asked for {model}; answered offline by {EMBEDDED} (no {key_env})"


class Router:
    """A :class:`~.backend.Backend` over the HTTP client ``remote`` makes and the local models.

    ``remote`` is called when the HTTP client is first needed, and again after
    :meth:`close`: the kernel's magics pass a function of their settings, so one
    router (held by cells and open panels alike) follows every ``%config``.
    """

    def __init__(self, remote: Callable[[], MistralClient]) -> None:
        self._make_remote = remote
        self._remote: MistralClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Router(remote={self._remote!r})"

    @property
    def remote(self) -> MistralClient:
        with self._lock:
            if self._remote is None:
                self._remote = self._make_remote()
            return self._remote

    def stream_chat(self, payload: Payload, on_status: OnStatus = None) -> Generator[Chunk, None, None]:
        backend, payload = self._route(payload)
        return backend.stream_chat(payload, on_status)

    def chat(self, payload: Payload, on_status: OnStatus = None, pace: Pace | None = None) -> Chunk:
        backend, payload = self._route(payload)
        return backend.chat(payload, on_status, pace)

    def astream_chat(self, payload: Payload, on_status: OnStatus = None) -> AsyncGenerator[Chunk, None]:
        backend, payload = self._route(payload)
        return backend.astream_chat(payload, on_status)

    async def achat(self, payload: Payload, on_status: OnStatus = None) -> Chunk:
        backend, payload = self._route(payload)
        return await backend.achat(payload, on_status)

    def list_models(self) -> list[Chunk]:
        """The models the key can use (none offline), then the embedded one if installed."""
        from .local import EMBEDDED, card, embedded_available

        remote = [] if self.offline() else self.remote.list_models()
        return remote + ([card(EMBEDDED)] if embedded_available() else [])

    def wire(self, payload: Payload) -> Payload:
        backend, payload = self._route(payload)
        return backend.wire(payload)

    def notes(self, payload: Payload) -> list[str]:
        """What to tell the user under this request's reply."""
        from .local import is_local

        if is_local(payload["model"]):
            return []
        if self.offline():
            return [offline_note(payload["model"], self.remote.api_key_env)]
        return self.remote.notes(payload)

    def cut_streams(self, threads: Iterable[threading.Thread]) -> None:
        """Cut the HTTP streams these threads read; a local model stops at its next token."""
        with self._lock:
            remote = self._remote
        if remote is not None:
            remote.cut_streams(threads)

    def close(self) -> None:
        """Close HTTP connections and forget the client, so the next request makes one from the settings then.

        Local models stay loaded for the rest of the kernel.
        """
        with self._lock:
            remote, self._remote = self._remote, None
        if remote is not None:
            remote.close()

    def offline(self) -> bool:
        """Whether requests for Mistral models are answered by the embedded model: no key, the hosted API."""
        from .local import embedded_available

        # Only in place of the hosted API: a server the user named is never swapped out.
        remote = self.remote
        return (remote.dialect == "mistral" and remote.base_url == DEFAULT_BASE_URL
                and not remote.has_key() and embedded_available())

    def _route(self, payload: Payload) -> tuple[Backend, Payload]:
        from .local import EMBEDDED, is_local, local_model  # on first use: the extension loads this module

        if is_local(payload["model"]):
            return local_model(payload["model"]), payload
        if self.offline():
            model = payload["model"]
            if not model.startswith(MISTRAL_FAMILIES):
                raise ConfigError(f"{model} is not a Mistral model, and offline {EMBEDDED} answers only in place "
                                  f"of Mistral's (no {self.remote.api_key_env}): ask for one, or for "
                                  "local:PATH.gguf to run another model in the kernel.")
            return local_model(EMBEDDED), {**payload, "model": EMBEDDED}
        return self.remote, payload

