"""Fixtures: a loopback Mistral server, and a real IPython shell with the extension loaded."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from IPython.core.history import HistoryAccessor
from IPython.core.interactiveshell import InteractiveShell

from browser import chromium, jupyterlab  # noqa: F401  (fixtures, shared by the browser tests)
from helpers import API_KEY
from mistral_server import MistralServer

# A run started in the background by a non-interactive shell inherits SIGINT ignored, and
# interrupts are among the behaviours tested: give Python's KeyboardInterrupt back.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def _server() -> Iterator[MistralServer]:
    with MistralServer(api_key=API_KEY) as server:
        yield server


@pytest.fixture
def server(_server: MistralServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MistralServer]:
    """The loopback server, emptied, with the environment pointing at it."""
    _server.reset()
    monkeypatch.setenv("MISTRAL_API_KEY", API_KEY)
    monkeypatch.setenv("MISTRAL_BASE_URL", _server.url)
    yield _server
    _server.reset()


@pytest.fixture
def shell(server: MistralServer) -> Iterator[InteractiveShell]:
    """A real IPython shell with mistral_magic loaded and rich (notebook) output."""
    HistoryAccessor.enabled = False
    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("mistral_magic")
    ip.run_line_magic("config", "MistralMagics.output = 'markdown'")
    yield ip
    ip.extension_manager.unload_extension("mistral_magic")
    InteractiveShell.clear_instance()

