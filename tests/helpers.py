"""Helpers the test modules share: cells run and captured, the loaded magics, ports, interrupts.

Fixtures live in conftest.py; these are plain functions and values that tests call
or read directly, so test modules import them from here and never from each other.
"""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import threading
from collections.abc import Iterator

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from mistral_magic.session import loaded

API_KEY = "test-key"

# Two tools as a notebook cell defines them, typed and documented; one fails for Atlantis.
TOOLS = '''
from typing import Literal

def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
    """Current weather for a city.

    Args:
        city: Name of the city, such as Lyon.
        unit: Celsius or Fahrenheit.
    """
    if city == "Atlantis":
        raise ValueError("no such city")
    return {"city": city, "temp": 21}

def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b
'''


def magics_of(shell):
    """The shell's loaded MistralMagics, found as the panel finds it."""
    return loaded(shell)


def run(shell, source: str, cell_id: str | None = None):
    """Run a cell as a notebook does; return what it displayed."""
    with capture_output() as captured:
        result = shell.run_cell(source, cell_id=cell_id)
    result.raise_error()
    return captured


def run_failing(shell, source: str, cell_id: str | None = None):
    with capture_output() as captured:
        result = shell.run_cell(source, cell_id=cell_id)
    assert not result.success
    return captured, result.error_in_exec or result.error_before_exec


def run_cell(shell, source: str):
    """Run a cell; return what it displayed and its result, failed or not."""
    with capture_output() as captured:
        result = shell.run_cell(source)
    return captured, result


def final_html(captured) -> str:
    return captured.outputs[-1].data["text/html"]


def history(shell, chat: str = "default") -> list[str]:
    return [message["content"] for message in magics_of(shell).store[chat].messages()]


def assert_next_cell_works(shell, before: list[str]) -> None:
    assert history(shell) == before
    _, result = run_cell(shell, "%%mistral\nstill there?")
    result.raise_error()
    assert history(shell)[-2:] == ["still there?", "Echo: still there?"]


def chat_bodies(server) -> list[dict]:
    return [r.body for r in server.requests if r.path == "/v1/chat/completions"]


def error_line(error) -> str:
    lines = error._render_traceback_() if hasattr(error, "_render_traceback_") else [str(error)]
    assert len(lines) == 1, lines
    return lines[0]


def call(name: str, call_id: str, **arguments) -> dict:
    """A tool call as the model sends it."""
    return {"id": call_id, "function": {"name": name, "arguments": arguments}}


def interrupt_main_after(seconds: float) -> threading.Timer:
    """Send SIGINT to the main thread later, as Jupyter's interrupt button does."""
    timer = threading.Timer(
        seconds, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT)
    )
    timer.start()
    return timer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def assert_refused_before_sending(shell, server, setup: str, line: str, words: str) -> None:
    """After ``setup``, ``%%mistral LINE`` is a usage error saying ``words``, and nothing was sent."""
    run(shell, setup)
    with pytest.raises(UsageError, match=re.escape(words)):
        shell.run_cell_magic("mistral", line, "hi")
    assert server.requests == []


OFFICIAL_CLIENT = "Mistral's official client is not installed: pip install -e '.[official]' (Python 3.10 or newer)"
"""Why the tests that compare with ``mistralai`` skip."""
