"""The HTTP side of the emulator: a threaded loopback server, its routes, and MistralServer.

Why real HTTP: the client is tested against real sockets, HTTP/1.1 framing, keep-alive and
SSE instead of mocks. Each request is recorded, then routed by method and path (a path may
hold {parameters}) and its key checked: chat requests are validated and answered by the next
queued Script (or the default echo reply), /v1/models lists models, and the Files and Batch
APIs keep their files and jobs in memory (files.py, batch.py).
"""
from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import sys
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable

from . import batch, files
from .batch import BATCH_PATH, BatchJob
from .exchange import Exchange
from .files import FILES_PATH, StoredFile
from .models import DEFAULT_MODELS, model_card
from .request import CHAT_PATH, Recorded, parse_json, prompt_words
from .scripts import Script, not_found, reply, unauthorized
from .validation import authorized, validate_chat

if TYPE_CHECKING:
    from typing_extensions import Self

MODELS_PATH = "/v1/models"

# Per-minute budgets reported in x-ratelimit-* headers (§7.3).
RATE_LIMIT_REQ_MINUTE = 120
RATE_LIMIT_TOKENS_MINUTE = 500_000


def _answer_chat(ex: Exchange, rec: Recorded) -> None:
    server = ex.server
    failure = validate_chat(rec.raw, server.models)
    script = failure or server._next_script() or reply(delay=server.chunk_delay)
    script.run(ex)


def _answer_models(ex: Exchange, rec: Recorded) -> None:
    ex.send_json(200, {"object": "list", "data": [model_card(m, ex.created) for m in ex.server.models]})


def _answer_model(ex: Exchange, rec: Recorded, model_id: str) -> None:
    """GET /v1/models/{model_id}: one card; 404 for a model the server does not have."""
    if model_id not in ex.server.models:
        return not_found(f"Model {model_id} not found").run(ex)
    ex.send_json(200, model_card(model_id, ex.created))


@dataclass(frozen=True)
class Route:
    """A method and a path template; each {name} in it is passed to `answer` as a keyword."""

    method: str
    template: str
    answer: Callable[..., None]

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


ROUTES = (
    Route("POST", CHAT_PATH, _answer_chat),
    Route("GET", MODELS_PATH, _answer_models),
    Route("GET", MODELS_PATH + "/{model_id}", _answer_model),
    Route("POST", FILES_PATH, files.answer_upload),
    Route("GET", FILES_PATH, files.answer_list),
    Route("GET", FILES_PATH + "/{file_id}", files.answer_file),
    Route("GET", FILES_PATH + "/{file_id}/content", files.answer_content),
    Route("POST", BATCH_PATH, batch.answer_create),
    Route("GET", BATCH_PATH, batch.answer_list),
    Route("GET", BATCH_PATH + "/{job_id}", batch.answer_job),
    Route("POST", BATCH_PATH + "/{job_id}/cancel", batch.answer_cancel),
)


class _Handler(BaseHTTPRequestHandler):
    """Records each request, then routes it. HTTP/1.1 so JSON replies can use keep-alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each write+flush leaves as its own segment
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: test output should only show test failures."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            rec = self._record()
            self._route(rec)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing to report

    def _record(self) -> Recorded:
        raw_body = self._read_body()
        ok, parsed = parse_json(raw_body)
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                       parsed if ok and isinstance(parsed, dict) else None, raw_body)
        self.server.owner._record(rec)
        return rec

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _route(self, rec: Recorded) -> None:
        """404 for an unknown path, 405 for a known one with another method, 401 without the key."""
        ex = Exchange(self, rec.body or {})
        path = rec.path.split("?", 1)[0]
        matches = [(route, params) for route in ROUTES if (params := route.match(path)) is not None]
        if not matches:
            return ex.send_json(404, {"detail": "Not Found"})
        for route, params in matches:
            if route.method == rec.method:
                if not authorized(rec.headers, self.server.owner.api_key):
                    return unauthorized().run(ex)
                return route.answer(ex, rec, **params)
        ex.send_json(405, {"detail": "Method Not Allowed"})


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # soak tests open hundreds of connections at once

    def __init__(self, owner: MistralServer, port: int) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        """Skip HTTPServer's getfqdn() reverse lookup, which can be slow in sandboxes."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects are normal in these tests; anything else is a bug worth a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class MistralServer:
    """A Mistral API emulator on 127.0.0.1, with a FIFO queue of scripted chat responses.

    Files and batch jobs live in `files` and `batch_jobs` (by id), so tests can read what was
    uploaded (`files[file_id].content`). A new batch job is RUNNING for `batch_polls` GETs
    after its QUEUED one, then ends; `batch_fail_next` (True, or a message) makes the next
    job created end FAILED instead.
    """

    def __init__(self, api_key: str = "test-key", models: tuple[str, ...] = DEFAULT_MODELS, *,
                 chunk_delay: float = 0.0, batch_polls: int = 3) -> None:
        self.api_key = api_key
        self.models = tuple(models)
        self.chunk_delay = chunk_delay
        self.batch_polls = batch_polls
        self.batch_fail_next: bool | str = False
        self.url = ""
        self.requests: list[Recorded] = []
        self.files: dict[str, StoredFile] = {}
        self.batch_jobs: dict[str, BatchJob] = {}
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._count = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> MistralServer:
        self._stopping.clear()
        self._httpd = _HTTPServer(self, port)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mistral-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: the event releases stalled handlers; idle keep-alive sockets are shut too."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *scripts: Script) -> None:
        with self._lock:
            self._queue.extend(scripts)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.files.clear()
            self.batch_jobs.clear()
            self.batch_fail_next = False

    @property
    def last_body(self) -> dict:
        """JSON body of the most recent chat request (LookupError if there was none)."""
        with self._lock:
            chats = [r for r in self.requests if r.path.split("?", 1)[0] == CHAT_PATH]
        if not chats:
            raise LookupError("no chat request received yet")
        return chats[-1].body or {}

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)
            self._count += 1

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _close_connections(self) -> None:
        """Wake handlers blocked reading the next keep-alive request, so nothing is served after stop()."""
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _next_script(self) -> Script | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _rate_limit_headers(self, body: dict) -> dict[str, str]:
        """Plausible per-minute budgets (§7.3): the request count and word count drive them."""
        cost = prompt_words(body)
        used = (self._count - 1) % RATE_LIMIT_REQ_MINUTE + 1
        return {
            "x-ratelimit-limit-req-minute": str(RATE_LIMIT_REQ_MINUTE),
            "x-ratelimit-remaining-req-minute": str(RATE_LIMIT_REQ_MINUTE - used),
            "x-ratelimit-limit-tokens-minute": str(RATE_LIMIT_TOKENS_MINUTE),
            "x-ratelimit-remaining-tokens-minute": str(RATE_LIMIT_TOKENS_MINUTE - cost),
            "x-ratelimit-tokens-query-cost": str(cost),
        }
