"""Help that helps: ``%%mistral?`` reads ``%%mistral``, a misspelt option names the nearest, terminals get columns."""

from __future__ import annotations

import re

import pytest

from helpers import error_line, run, run_failing

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def help_text(shell, magic: str) -> str:
    """What ``magic?`` prints, without its colours."""
    return ANSI.sub("", run(shell, f"{magic}?").stdout)


def column_starts(line: str) -> list[int]:
    """Where each column's text begins: at the start of the line, or after two spaces or more."""
    return [match.start() for match in re.finditer(r"^\S|(?<=  )\S", line)]


def assert_columns(lines: list[str]) -> None:
    """A header, a rule of dashes under each column, then rows whose cells start where the header's do."""
    header = column_starts(lines[0])
    assert len(header) > 1, lines[0]
    assert set(lines[1]) == {"-", " "} and column_starts(lines[1]) == header, lines[:2]
    for row in lines[2:]:
        starts = column_starts(row)
        assert len(starts) > 1 and starts == header[:len(starts)], (lines[0], row)


def terminal(shell) -> None:
    run(shell, "%config MistralMagics.output = 'text'")


# --------------------------------------------------------------------------- usage

def test_the_cell_magic_help_shows_its_usage_as_a_cell_magic(shell):
    shown = help_text(shell, "%%mistral")
    assert "\n  %%mistral [-m NAME] [-c NAME] [--role {user,system}]" in shown
    assert not re.search(r"(?<!%)%mistral \[", shown)


def test_line_magic_help_keeps_the_line_magic_usage(shell):
    shown = help_text(shell, "%mistral_history")
    assert "\n  %mistral_history [-c NAME]\n" in shown and "%%mistral_history" not in shown


# --------------------------------------------------------------------------- misspelt options

@pytest.mark.parametrize("cell, message", [
    ("%%mistral --temprature 0.2\nhi", "unrecognized arguments: --temprature 0.2 (did you mean --temperature?)"),
    ("%%mistral --temprature=0.2\nhi", "unrecognized arguments: --temprature=0.2 (did you mean --temperature?)"),
    ("%%mistral --temprature 0.2 --modle x\nhi",
     "unrecognized arguments: --temprature 0.2 --modle x (did you mean --temperature, --model?)"),
    ("%mistral_history --chatt x", "unrecognized arguments: --chatt x (did you mean --chat?)"),
    ("%mistral_fork plan-b --att 1", "unrecognized arguments: --att 1 (did you mean --at?)"),
])
def test_a_misspelt_option_is_one_line_naming_the_nearest(shell, server, cell, message):
    captured, error = run_failing(shell, cell)
    assert error_line(error) == message
    assert captured.stderr == f"UsageError: {message}\n"
    assert server.requests == []


@pytest.mark.parametrize("cell, message", [
    ("%%mistral --bogus\nhi", "unrecognized arguments: --bogus"),
    ("%mistral_history --zzz x", "unrecognized arguments: --zzz x"),
])
def test_an_unknown_option_with_nothing_near_suggests_nothing(shell, server, cell, message):
    captured, error = run_failing(shell, cell)
    assert error_line(error) == message
    assert captured.stderr == f"UsageError: {message}\n"
    assert server.requests == []


# --------------------------------------------------------------------------- terminal tables

def test_models_in_a_terminal_are_aligned_columns(shell, server):
    terminal(shell)
    captured = run(shell, "%mistral_models")
    lines = captured.stdout.splitlines()
    assert captured.outputs == [] and "|" not in captured.stdout
    assert lines[0].split() == ["model", "context", "aliases"]
    assert any(line.split() == ["mistral-large-latest", "131072"] for line in lines[2:])
    assert_columns(lines)


def test_usage_in_a_terminal_is_aligned_columns_then_the_note(shell, server):
    terminal(shell)
    run(shell, "%%mistral\nhello")
    run(shell, "%%mistral -c other\nhello again")
    shown = run(shell, "%mistral_usage").stdout
    assert "|" not in shown and "*" not in shown
    table, note = shown.rstrip("\n").split("\n\n")
    lines = table.splitlines()
    assert re.split(r"  +", lines[0]) == ["conversation", "turns", "tokens in", "tokens out", "est. cost (USD)"]
    assert [line.split()[:2] for line in lines[2:]] == [["default", "1"], ["other", "1"], ["kernel", "2"]]
    assert_columns(lines)
    assert note.startswith("Prices: USD per million tokens from MistralMagics.prices")


def test_history_in_a_terminal_reads_without_markup(shell, server):
    terminal(shell)
    run(shell, "%%mistral --role system\nBe brief.")
    run(shell, "%%mistral\nSay `hi` with **bold**")
    shown = run(shell, "%mistral_history").stdout
    assert "**" not in shown and "`" not in shown
    assert shown.split("\n\n") == ["Conversation 'default' (1 turn)", "system", "Be brief.", "[1] user",
                                   "Say hi with bold", "[1] assistant", "Echo: Say hi with bold\n"]


def test_code_blocks_in_a_terminal_stay_as_written(shell, server):
    terminal(shell)
    shown = run(shell, "%%mistral --dry-run\nf(**kw) | `x`").stdout
    assert shown.startswith("Dry run: nothing was sent. The cell would POST this body to /v1/chat/completions:")
    assert '\n```json\n{\n' in shown and '"content": "f(**kw) | `x`"' in shown
