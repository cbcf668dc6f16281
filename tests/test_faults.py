"""The fault matrix: what a user sees for each failure, in a real IPython shell.

Each row is one fault the loopback server (or the network) produces while a
``%%mistral`` cell runs. For every row: the user sees one line naming the cause
and what to do (``error``), or the reply completes (``error`` is None); what
had arrived stays on screen (``kept``); the conversation is unchanged by a
failure; and the next cell works.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from IPython.utils.capture import capture_output

import mistral_server as ms
from conftest import interrupt_main_after

HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>"
CHUNK = ('{"id":"a","model":"mistral-small-latest","choices":[{"index":0,"delta":{"content":"%s"},'
         '"finish_reason":%s}]%s}')


def sse(*events: str) -> list[bytes]:
    return [f"data: {event}\n\n".encode() for event in events]


@dataclass
class Fault:
    name: str
    scripts: tuple[Any, ...] = ()
    error: str | None = None
    kept: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str | None] = field(default_factory=dict)


FAULTS = [
    Fault("no API key", environ={"MISTRAL_API_KEY": None},
          error="ConfigError: MISTRAL_API_KEY is not set. Export it before starting Jupyter"),
    Fault("401 message body", (ms.unauthorized("message"),),
          "APIStatusError: Mistral API answered 401 Unauthorized: Unauthorized. Check the key in MISTRAL_API_KEY."),
    Fault("401 detail body", (ms.unauthorized("detail"),),
          "APIStatusError: Mistral API answered 401 Unauthorized: Unauthorized. Check the key"),
    Fault("401 empty body", (ms.unauthorized("empty"),),
          "APIStatusError: Mistral API answered 401 Unauthorized. Check the key in MISTRAL_API_KEY."),
    Fault("400 invalid model", (ms.invalid_model("mistral-huge"),),
          "APIStatusError: Mistral API answered 400 Bad Request: Invalid model: mistral-huge. List the models"),
    Fault("400 message order", (ms.message_order("Unexpected role 'user' after role 'tool'"),),
          "APIStatusError: Mistral API answered 400 Bad Request: Unexpected role 'user' after role 'tool'."),
    Fault("403", (ms.error(403, {"object": "error", "message": "Model not available", "type": "forbidden"}),),
          "APIStatusError: Mistral API answered 403 Forbidden: Model not available. The key's workspace"),
    Fault("404", (ms.error(404, {"detail": "Not Found"}),),
          "APIStatusError: Mistral API answered 404 Not Found: Not Found. Check the base URL"),
    Fault("422 spec shape", (ms.validation_error(["body", "temperature"], "Input should be <= 1.5", shape=1),),
          "APIStatusError: Mistral API answered 422 Unprocessable Entity: temperature: Input should be <= 1.5"),
    Fault("422 wrapped shape", (ms.validation_error(["body", "top_p"], "Input should be > 0", shape=2),),
          "APIStatusError: Mistral API answered 422 Unprocessable Entity: top_p: Input should be > 0"),
    Fault("422 capitalised shape", (ms.validation_error(["body", "stop"], "Input should be a list", shape=3),),
          "APIStatusError: Mistral API answered 422 Unprocessable Entity: stop: Input should be a list"),
    Fault("429 with Retry-After", (ms.rate_limited(retry_after="30"),),
          "APIStatusError: Mistral API answered 429 Too Many Requests: Rate limit exceeded. Rate limited: re-run the cell in 30 s."),
    Fault("429 without Retry-After", (ms.rate_limited(shape="message"),),
          "APIStatusError: Mistral API answered 429 Too Many Requests: Requests rate limit exceeded. Rate limited: re-run the cell in a moment."),
    *[Fault(f"{status}", (ms.server_error(status),),
            f"APIStatusError: Mistral API answered {status} ") for status in (500, 502, 503, 504)],
    Fault("non-JSON error body from a proxy", (ms.error(502, HTML_PAGE),),
          "APIStatusError: Mistral API answered 502 Bad Gateway: 502 Bad Gateway. The service had a problem"),
    Fault("connection refused", config={"base_url": "refused"},
          error="APIConnectionError: could not connect to http://127.0.0.1:"),
    Fault("DNS failure", config={"base_url": "http://api.mistral-magic.invalid"},
          error="APIConnectionError: could not connect to http://api.mistral-magic.invalid"),
    Fault("connect timeout", config={"base_url": "unanswered", "connect_timeout": 0.3},
          error="APITimeoutError: could not connect to http://127.0.0.1:"),
    Fault("stall before headers", (ms.stall(10),), config={"read_timeout": 0.3},
          error="APITimeoutError: no data from http://127.0.0.1:"),
    Fault("stall mid-stream", (ms.stall(10, after_chunks=2, text="partial reply here"),),
          config={"read_timeout": 0.3}, error="APITimeoutError: no data from", kept="partial reply"),
    Fault("connection dropped mid-stream", (ms.drop(after_chunks=3, text="partial reply that is cut"),),
          "APIConnectionError: the connection to", kept="partial reply that"),
    Fault("malformed JSON chunk", (ms.malformed(after_chunks=2),),
          "StreamError: the stream sent an event that is not JSON", kept="partial reply"),
    Fault("finish_reason error", (ms.reply("Half an ans", finish_reason="error"),),
          "StreamError: the model stopped with an error partway through the reply.", kept="Half an ans"),
    Fault("finish_reason length", (ms.reply("A reply cut", finish_reason="length"),),
          kept="cut short by the token limit: raise --max-tokens"),
    Fault("content as a list of chunks", (ms.reply("The answer.", content_list=True),), kept="The answer."),
    Fault("unknown keys in chunks", (ms.raw(200, {"Content-Type": "text/event-stream"}, sse(
        CHUNK % ("Hi", "null", ',"p":"xyz","logprobs":null,"brand_new":{"a":1}'),
        CHUNK % (" there", '"stop"', ',"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}'),
        "[DONE]")),), kept="Hi there"),
    Fault("CRLF framing and comment lines", (ms.reply("Framed well", crlf=True, comments=True),),
          kept="Framed well"),
    Fault("U+2028 inside JSON strings", (ms.raw(200, {"Content-Type": "text/event-stream"}, sse(
        CHUNK % ("line\u2028sep", '"stop"', ""), "[DONE]")),), kept="line\u2028sep"),
]


@contextlib.contextmanager
def unanswered_port() -> Iterator[int]:
    """A loopback port whose accept queue is full, so new connections get no answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(4)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    try:
        yield port
    finally:
        for sock in (*fillers, listener):
            sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure(shell, **settings: Any) -> None:
    for name, value in settings.items():
        shell.run_line_magic("config", f"MistralMagics.{name} = {value!r}")


def run_cell(shell, source: str):
    with capture_output() as captured:
        result = shell.run_cell(source)
    return captured, result


def history(shell) -> list[str]:
    return [m["content"] for m in shell.magics_manager.registry["MistralMagics"].store["default"].messages()]


def assert_next_cell_works(shell, before: list[str]) -> None:
    assert history(shell) == before
    captured, result = run_cell(shell, "%%mistral\nstill there?")
    result.raise_error()
    assert history(shell)[-2:] == ["still there?", "Echo: still there?"]


@pytest.fixture
def fault_shell(shell, server):
    """The shell with one committed turn and no retries, so each fault shows at once."""
    configure(shell, max_retries=0)
    captured, result = run_cell(shell, "%%mistral\nkeep me")
    result.raise_error()
    return shell


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: fault.name)
def test_fault(fault_shell, server, fault, monkeypatch):
    shell = fault_shell
    before = history(shell)
    with monkeypatch.context() as patch, unanswered_port() as unanswered:
        for name, value in fault.environ.items():
            patch.delenv(name) if value is None else patch.setenv(name, value)
        ports = {"refused": f"http://127.0.0.1:{free_port()}", "unanswered": f"http://127.0.0.1:{unanswered}"}
        configure(shell, **{name: ports.get(value, value) for name, value in fault.config.items()})
        server.enqueue(*fault.scripts)
        captured, result = run_cell(shell, "%%mistral\nhi")
    screen = captured.outputs[-1].data.get("text/markdown", "")
    if fault.error is None:
        result.raise_error()
        assert fault.kept in screen
        assert history(shell)[:-2] == before and history(shell)[-2] == "hi"
        before = history(shell)
    else:
        error = result.error_in_exec
        assert error is not None, "the cell should have failed"
        lines = error._render_traceback_()
        assert len(lines) == 1 and lines[0].startswith(fault.error), lines
        assert fault.kept in screen
        if fault.kept:
            assert "⚠ failed: nothing was added to 'default'" in screen
        else:
            assert captured.outputs[-1].data == {"text/plain": ""}  # the waiting indicator is gone
        assert "test-key" not in lines[0] + repr(captured.outputs)
    configure(shell, base_url=server.url, read_timeout=120.0, connect_timeout=10.0)
    assert_next_cell_works(shell, before)


@pytest.mark.parametrize("script, kept", [(ms.stall(10, after_chunks=2), "partial reply"), (ms.stall(10), "")],
                         ids=["mid-stream", "waiting for headers"])
def test_interrupt(fault_shell, server, script, kept):
    server.enqueue(script)
    timer = interrupt_main_after(0.5)
    captured, result = run_cell(fault_shell, "%%mistral\nhi")
    timer.join()
    lines = result.error_in_exec._render_traceback_()
    assert lines == ["ReplyInterrupted: the reply was interrupted; what arrived stays above, "
                     "and the conversation is unchanged."]
    screen = captured.outputs[-1].data
    if kept:
        assert kept in screen["text/markdown"] and "⚠ interrupted" in screen["text/markdown"]
    else:
        assert screen == {"text/plain": ""}
    assert_next_cell_works(fault_shell, ["keep me", "Echo: keep me"])


def test_retries_are_shown_while_waiting(shell, server):
    server.enqueue(ms.rate_limited(retry_after="0"), ms.server_error(503))
    shell.run_line_magic("config", "MistralMagics.retry_max_wait = 5.0")
    captured, result = run_cell(shell, "%%mistral\nhi")
    result.raise_error()
    statuses = [o.data["text/plain"] for o in captured.outputs if "retrying" in o.data.get("text/plain", "")]
    assert statuses[0] == "429 Too Many Requests: retrying in 0.0 s (attempt 2 of 5; interrupt to stop)"
    assert statuses[1].startswith("503 Service Unavailable: retrying in ")
    assert "Echo: hi" in captured.outputs[-1].data["text/markdown"] and len(server.requests) == 3


def test_interrupting_a_retry_wait_stops_at_once(shell, server):
    server.enqueue(ms.rate_limited(retry_after="30"))
    timer = interrupt_main_after(0.5)
    captured, result = run_cell(shell, "%%mistral\nhi")
    timer.join()
    assert isinstance(result.error_in_exec, Exception)
    assert "interrupted" in str(result.error_in_exec) and len(server.requests) == 1
    assert_next_cell_works(shell, [])
