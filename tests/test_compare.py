"""``--compare`` in a real IPython shell: every combination side by side in one grid."""

from __future__ import annotations

import re
import threading
import time

import pytest
from IPython.core.error import UsageError

import mistral_server as ms
from helpers import (
    chat_bodies,
    error_line,
    final_html,
    history,
    interrupt_main_after,
    run,
    run_failing,
)


def test_compare_streams_each_combination_into_one_grid_and_records_each(shell, server):
    run(shell, "%%mistral\nBefore", "c0")
    server.reset()
    captured = run(shell, "%%mistral --compare -m mistral-small-latest,mistral-nope -t 0,0.7 -o runs\n"
                          "Name a cheese.", "c1")
    bodies = chat_bodies(server)
    assert sorted((b["model"], b["temperature"]) for b in bodies) == [
        ("mistral-nope", 0.0), ("mistral-nope", 0.7), ("mistral-small-latest", 0.0), ("mistral-small-latest", 0.7)]
    assert all([m["content"] for m in b["messages"]] == ["Before", "Echo: Before", "Name a cheese."] for b in bodies)
    failed = ("APIStatusError: Mistral API answered 400 Bad Request: Invalid model: mistral-nope. "
              "List the models your key can use with %mistral_models.")
    runs = shell.user_ns["runs"]
    assert [{k: v for k, v in r.items() if k != "usage"} for r in runs] == [
        {"model": "mistral-small-latest", "temperature": 0.0, "text": "Echo: Name a cheese.", "error": None},
        {"model": "mistral-small-latest", "temperature": 0.7, "text": "Echo: Name a cheese.", "error": None},
        {"model": "mistral-nope", "temperature": 0.0, "text": "", "error": failed},
        {"model": "mistral-nope", "temperature": 0.7, "text": "", "error": failed}]
    assert runs[0]["usage"]["completion_tokens"] == 4 and runs[2]["usage"] is None
    assert len({output.transient["display_id"] for output in captured.outputs}) == 1
    assert len(captured.outputs) <= 6 and all(output.update for output in captured.outputs[1:])
    grid = final_html(captured)
    assert grid.count('<div class="mistral-reply">') == 4 and grid.count("<p>Echo: Name a cheese.</p>") == 2
    for label in ("mistral-small-latest · temperature 0<", "mistral-nope · temperature 0.7<"):
        assert label in grid
    assert grid.count("⚠ " + failed) == 2 and grid.count("out tokens · first token") == 2
    assert history(shell) == ["Before", "Echo: Before"]  # compare adds no turn


def test_columns_stream_at_the_same_time(shell, server):
    slow = ["one ", "two ", "three"]
    server.enqueue(ms.reply(chunks=slow, delay=0.3), ms.reply(chunks=slow, delay=0.3))
    started = time.monotonic()
    captured = run(shell, "%%mistral --compare -m mistral-small-latest,mistral-large-latest\nCount")
    assert time.monotonic() - started < 1.6  # each reply takes 0.9 s
    partial = [output.data["text/plain"] for output in captured.outputs if "one two" in output.data["text/plain"]
               and "three" not in output.data["text/plain"]]
    assert partial, "the grid should show replies while they stream"
    assert final_html(captured).count("<p>one two three</p>") == 2


def test_compare_prints_each_column_in_a_terminal(shell, server):
    shell.run_line_magic("config", "MistralMagics.output = 'text'")
    captured = run(shell, "%%mistral --compare --random-seed 1,2\nHi")
    assert captured.outputs == []
    assert captured.stdout.startswith("[mistral-small-latest · random_seed 1]\nEcho: Hi\n— mistral-small-latest")
    assert "\n\n[mistral-small-latest · random_seed 2]\nEcho: Hi\n" in captured.stdout


def test_interrupting_a_comparison_stops_every_column(shell, server):
    server.enqueue(ms.stall(3, after_chunks=2), ms.stall(3, after_chunks=2))
    timer = interrupt_main_after(0.5)
    started = time.monotonic()
    captured, error = run_failing(shell, "%%mistral --compare -t 0.1,0.2\nhi")
    timer.join()
    assert time.monotonic() - started < 2
    # The workers ended with the cell: their streams were cut, not left to the server's stall.
    assert [thread for thread in threading.enumerate() if thread.name == "mistral-compare"] == []
    assert error_line(error) == "ReplyInterrupted: the comparison was interrupted; what arrived stays above."
    grid = final_html(captured)
    assert grid.count("⚠ interrupted") == 2 and grid.count("partial reply") == 2
    assert history(shell) == []


@pytest.mark.parametrize("line, words", [
    ("-t 0,0.7", "--temperature got several values: add --compare to run each side by side."),
    ("-m a,b --top-p 0.1,0.2", "--model, --top-p got several values"),
    ("--compare -t 0.5", "--compare needs several comma-separated values of a setting"),
    ("--compare -t 0,,1", "'0,,1' has an empty value between commas"),
    ("--compare -t 0,9", "-t/--temperature: 9 is outside the allowed range 0 to 1.5"),
    ("--dry-run --new", "--dry-run and --new do not go together: a dry run changes nothing"),
])
def test_compare_problems_are_usage_errors_before_any_request(shell, server, line, words):
    with pytest.raises(UsageError, match=re.escape(words)):
        shell.run_cell_magic("mistral", line, "hi")
    assert server.requests == []
