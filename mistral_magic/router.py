"""The client the front ends are given: each request to the backend its model names.

``local:`` models run in this process (:mod:`.local`); the rest go over HTTP
(:class:`~.client.MistralClient`). With no key for the hosted API and the
embedded model installed, requests for Mistral models are answered offline by
``local:smollm2``, so a notebook runs on a machine with no key and no network.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from .client import DEFAULT_BASE_URL, MistralClient, OnRetry
from .local import EMBEDDED, card, embedded_available, is_local, local_model

__all__ = ["OFFLINE_NOTE", "Router"]

OFFLINE_NOTE = "offline model; set MISTRAL_API_KEY to use Mistral"


class Router:
    """A client with :class:`MistralClient`'s methods, over ``remote`` and the local models."""

    def __init__(self, remote: MistralClient) -> None:
        self.remote = remote

    def __repr__(self) -> str:
        return f"Router(remote={self.remote!r})"

    def stream_chat(self, payload: dict[str, Any], on_retry: OnRetry = None) -> Iterator[dict[str, Any]]:
        backend, payload = self._route(payload)
        return backend.stream_chat(payload, on_retry)

    def chat(self, payload: dict[str, Any], on_retry: OnRetry = None) -> dict[str, Any]:
        backend, payload = self._route(payload)
        return backend.chat(payload, on_retry)

    def astream_chat(self, payload: dict[str, Any], on_retry: OnRetry = None
                     ) -> AsyncIterator[dict[str, Any]]:
        backend, payload = self._route(payload)
        return backend.astream_chat(payload, on_retry)

    async def achat(self, payload: dict[str, Any], on_retry: OnRetry = None) -> dict[str, Any]:
        backend, payload = self._route(payload)
        return await backend.achat(payload, on_retry)

    def list_models(self) -> list[dict[str, Any]]:
        """The models the key can use (none offline), then the embedded one if installed."""
        remote = [] if self._offline() else self.remote.list_models()
        return remote + ([card(EMBEDDED)] if embedded_available() else [])

    def notes(self, payload: dict[str, Any]) -> list[str]:
        """What to tell the user under this request's reply."""
        if is_local(payload["model"]):
            return []
        return [OFFLINE_NOTE] if self._offline() else self.remote.notes(payload)

    def close(self) -> None:
        """Close HTTP connections; local models stay loaded for the rest of the kernel."""
        self.remote.close()

    def _offline(self) -> bool:
        # Only in place of the hosted API: a server the user named is never swapped out.
        return (self.remote.dialect == "mistral" and self.remote.base_url == DEFAULT_BASE_URL
                and not self.remote.has_key() and embedded_available())

    def _route(self, payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if is_local(payload["model"]):
            return local_model(payload["model"]), payload
        if self._offline():
            return local_model(EMBEDDED), {**payload, "model": EMBEDDED}
        return self.remote, payload
