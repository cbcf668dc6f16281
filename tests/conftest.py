"""Fixtures: a loopback Mistral server, and a real IPython shell with the extension loaded."""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from IPython.core.history import HistoryAccessor
from IPython.core.interactiveshell import InteractiveShell

from browser import chromium, jupyterlab  # noqa: F401  (fixtures, shared by the browser tests)
from helpers import API_KEY
from mistral_server import MistralServer

# Timing is the benchmarks' job: no per-example deadline and no "generation is slow" check, which a
# busy 2-core machine fails (the first run of a fresh checkout also builds Hypothesis's Unicode tables).
settings.register_profile("mistral_magic", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mistral_magic")

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
    dispose(ip)


def dispose(ip: InteractiveShell) -> None:
    """Close a shell and take back what it registered for process exit.

    Every shell registers ``atexit_operations`` and ``ScriptMagics.kill_bg_processes``.
    Left registered, they keep each test's shell alive to the end, and at exit each
    ``atexit_operations`` resets its namespace and runs ``gc.collect()`` over all that is
    still held: 0.2 to 0.3 s a shell, some 40 s of silence after a full run's summary.
    ``atexit_operations`` is not run here either: with history disabled there is no
    session to end nor saving thread to stop, and its ``reset()`` would cost a full
    collection a test for a namespace that goes with the shell anyway.
    """
    script_magics = ip.magics_manager.registry["ScriptMagics"]
    atexit.unregister(script_magics.kill_bg_processes)
    script_magics.kill_bg_processes()
    atexit.unregister(ip.atexit_operations)
    ip.cleanup()  # puts back the sys.modules entries the shell replaced
    InteractiveShell.clear_instance()


# Threads the package starts. The loopback server's thread is not among them: it lives as
# long as its fixture (some are module- or session-wide), and MistralServer.stop() joins it.
WARM_UP = "mistral-magic-warm-up"  # builds the Markdown parser, touching no socket


def package_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate()
            if thread.name.startswith("mistral-") and thread.name != "mistral-server"}


@pytest.fixture(autouse=True)
def _no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves a thread of ours running once its fixtures are torn down.

    Autouse fixtures are set up first, so this runs after every other fixture of the
    test has closed what it made (shells, panels, servers). The warm-up thread has a
    bounded job of its own and is waited for; any other thread still alive is one that
    nothing ended, such as a worker blocked reading a socket.
    """
    before = package_threads()
    yield
    left = package_threads() - before
    for thread in [thread for thread in left if thread.name == WARM_UP]:
        thread.join(timeout=30)
    left = {thread for thread in left if thread.is_alive()}
    assert not left, f"threads left running: {sorted(thread.name for thread in left)}"

