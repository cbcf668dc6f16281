"""The fault matrix: what a user sees for each failure, in a real IPython shell.

Each row is one fault the loopback server (or the network) produces while a
``%%mistral`` cell runs. For every row: the user sees one line naming the cause
and what to do (``error``), or the reply completes (``error`` is None); what
had arrived stays on screen (``kept``); the conversation is unchanged by a
failure; and the next cell works. The rows are in fault_matrix.py.
"""

from __future__ import annotations

from typing import Any

import pytest

import mistral_server as ms
from fault_matrix import FAULTS
from helpers import (
    assert_next_cell_works,
    free_port,
    history,
    interrupt_main_after,
    run_cell,
    unanswered_port,
)


def configure(shell, **settings: Any) -> None:
    for name, value in settings.items():
        shell.run_line_magic("config", f"MistralMagics.{name} = {value!r}")


@pytest.fixture
def fault_shell(shell, server):
    """The shell with one committed turn and no retries, so each fault shows at once."""
    configure(shell, max_retries=0)
    _, result = run_cell(shell, "%%mistral\nkeep me")
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
    assert lines == [("ReplyInterrupted: the reply was interrupted; what arrived stays above, "
                      "and the conversation is unchanged.")]
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
    _, result = run_cell(shell, "%%mistral\nhi")
    timer.join()
    assert isinstance(result.error_in_exec, Exception)
    assert "interrupted" in str(result.error_in_exec) and len(server.requests) == 1
    assert_next_cell_works(shell, [])
