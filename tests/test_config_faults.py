"""The configuration fault table: the mistakes people make setting things up, in a real IPython shell.

Beside the network fault table (``test_faults``): a key pasted with a newline,
a base URL without a scheme, an empty model, a variable name that is not one.
For every row the user sees one short line and no traceback frames; neither the
key nor a password in the URL appears in any output or log record (httpx and
httpcore log at DEBUG); nothing is lost; and the next cell works once the
setting is fixed (a refused ``%config`` value never took effect, so at once).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest
from IPython.utils.capture import capture_output

import mistral_server as ms
from helpers import (
    API_KEY,
    assert_next_cell_works,
    free_port,
    history,
    magics_of,
    run_cell,
)

PASSWORD = "hunter2-url-secret"


@dataclass
class Refused:
    """A ``%config`` value that is refused with one line, the previous value kept."""

    name: str
    setting: str
    value: object
    error: str


REFUSED = [
    Refused("base URL without a scheme", "base_url", "api.mistral.ai",
            "MistralMagics.base_url 'api.mistral.ai' is not an http(s) URL with a host"),
    Refused("base URL with another scheme", "base_url", "ftp://files.example.com",
            "MistralMagics.base_url 'ftp://files.example.com' is not an http(s) URL with a host"),
    Refused("base URL with a space", "base_url", "http://local host:8000",
            "MistralMagics.base_url 'http://local host:8000' contains whitespace"),
    Refused("base URL with a trailing newline", "base_url", "http://localhost:8000\n",
            "MistralMagics.base_url 'http://localhost:8000\\n' contains whitespace"),
    Refused("base URL without a host", "base_url", "http://", "MistralMagics.base_url 'http://' is not"),
    Refused("base URL with a bad port", "base_url", "http://localhost:99999",
            "MistralMagics.base_url 'http://localhost:99999' is not a URL"),
    Refused("password in a refused URL is not shown", "base_url", f"ftp://me:{PASSWORD}@example.com",
            "MistralMagics.base_url 'ftp://me:***@example.com' is not an http(s) URL"),
    Refused("empty model", "model", "", "MistralMagics.model is empty: name a model"),
    Refused("model with a space", "model", "mistral small",
            "MistralMagics.model 'mistral small' contains a space at position 8 of 13"),
    Refused("key variable with a space", "api_key_env", "MY KEY",
            "MistralMagics.api_key_env 'MY KEY' is not an environment variable name"),
    Refused("empty key variable", "api_key_env", "", "MistralMagics.api_key_env '' is not"),
    Refused("unknown dialect", "dialect", "anthropic", "The 'dialect' trait of a MistralMagics instance"),
    Refused("connect timeout of 0", "connect_timeout", 0.0,
            "The value of the 'connect_timeout' trait of a MistralMagics instance should not be less "
            "than 0.1"),
    Refused("negative read timeout", "read_timeout", -1.0, "The value of the 'read_timeout' trait"),
    Refused("timeout as text", "read_timeout", "soon",
            "The 'read_timeout' trait of a MistralMagics instance"),
    Refused("negative retries", "max_retries", -1, "The value of the 'max_retries' trait"),
    Refused("negative retry wait", "retry_max_wait", -5.0, "The value of the 'retry_max_wait' trait"),
    Refused("negative temperature", "temperature", -0.5, "The value of the 'temperature' trait"),
    Refused("no tool rounds", "max_tool_rounds", 0, "The value of the 'max_tool_rounds' trait"),
]


@dataclass
class Failing:
    """A cell that fails before anything is sent, or whose reply is refused, with one line."""

    name: str
    cell: str = "%%mistral\nhi"
    error: str | None = None  # None: the cell works
    environ: dict[str, str] = field(default_factory=dict)
    config: dict[str, object] = field(default_factory=dict)
    reply: str | None = None  # what the server answers, when it is asked
    sent: bool = False
    reload: bool = False  # load the extension again, as a kernel started with ``environ`` would


FAILING = [
    Failing("key with a trailing newline", environ={"MISTRAL_API_KEY": API_KEY + "\n"}, sent=True),
    Failing("key with spaces around it", environ={"MISTRAL_API_KEY": f"  {API_KEY} \r\n"}, sent=True),
    Failing("key with a newline inside", environ={"MISTRAL_API_KEY": "test-\nkey"},
            error="ConfigError: MISTRAL_API_KEY contains a newline at position 6 of 9: a key is one line"),
    Failing("key with a space inside", environ={"MISTRAL_API_KEY": "test key"},
            error="ConfigError: MISTRAL_API_KEY contains a space at position 5 of 8"),
    Failing("key with a non-ASCII letter", environ={"MISTRAL_API_KEY": "test-kéy"},
            error="ConfigError: MISTRAL_API_KEY contains a non-ASCII character (U+00E9 LATIN SMALL "
                  "LETTER E WITH ACUTE) at position 7 of 8"),
    Failing("key with a non-breaking space", environ={"MISTRAL_API_KEY": "test\u00a0key"},
            error="ConfigError: MISTRAL_API_KEY contains a non-ASCII character (U+00A0 NO-BREAK SPACE)"),
    Failing("key with a control character", environ={"MISTRAL_API_KEY": "test\x07key"},
            error="ConfigError: MISTRAL_API_KEY contains a control character (U+0007) at position 5"),
    Failing("key of whitespace only", environ={"MISTRAL_API_KEY": " \n"},
            error="ConfigError: MISTRAL_API_KEY is not set."),
    Failing("bad base URL in the environment", environ={"MISTRAL_BASE_URL": "localhost:8000"},
            reload=True,
            error="ConfigError: MISTRAL_BASE_URL 'localhost:8000' is not an http(s) URL with a host"),
    Failing("credentials in the URL of a refused connection",
            config={"base_url": f"http://me:{PASSWORD}@127.0.0.1:{{refused}}"},
            error="APIConnectionError: could not connect to http://me:***@127.0.0.1:"),
    Failing("-o with a space", "%%mistral -o 'not valid'\nhi",
            "UsageError: argument -o/--out: -o 'not valid' is not a variable name"),
    Failing("-o a keyword", "%%mistral -o class\nhi", "UsageError: argument -o/--out: -o 'class' is not"),
    Failing("-o starting with a digit", "%%mistral -o 1abc\nhi", "UsageError: argument -o/--out: -o '1abc'"),
    Failing("-m empty", "%%mistral -m ''\nhi", "UsageError: argument -m/--model: -m is empty"),
    Failing("-m with a space", "%%mistral -m 'mistral small'\nhi",
            "UsageError: argument -m/--model: -m 'mistral small' contains a space"),
    Failing("--json reply that is not JSON", "%%mistral --json -o data\nJSON please",
            "ReplyValidationError: the reply is not valid JSON (Expecting value: line 1 column 1 (char 0)). "
            "Its text stays above and in data.", reply="Sure! Here it is: {\"a\": 1}", sent=True),
]


@pytest.fixture
def logs(caplog):
    """Every log record, httpx's and httpcore's debug lines included."""
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    return caplog


def everything_shown(captured, logs) -> str:
    return (captured.stdout + captured.stderr + repr(captured.outputs)
            + "\n".join(record.getMessage() for record in logs.records))


def assert_nothing_secret(text: str, *secrets: str) -> None:
    assert "Traceback" not in text and 'File "' not in text
    for secret in (API_KEY, PASSWORD, *secrets):
        assert secret not in text


@pytest.mark.parametrize("row", REFUSED, ids=lambda row: row.name)
def test_refused_setting(shell, server, logs, row):
    magics = magics_of(shell)
    before = getattr(magics, row.setting)
    run_cell(shell, "%%mistral\nkeep me")[1].raise_error()
    logs.clear()
    with capture_output() as captured:
        shell.run_line_magic("config", f"MistralMagics.{row.setting} = {row.value!r}")
    errors = [record.getMessage() for record in logs.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(row.error), errors
    assert "\n" not in errors[0]
    assert getattr(magics, row.setting) == before
    assert_nothing_secret(everything_shown(captured, logs))
    assert_next_cell_works(shell, ["keep me", "Echo: keep me"])


@pytest.mark.parametrize("row", FAILING, ids=lambda row: row.name)
def test_failing_cell(shell, server, logs, monkeypatch, row):
    run_cell(shell, "%%mistral\nkeep me")[1].raise_error()
    with monkeypatch.context() as patch:
        for name, value in row.environ.items():
            patch.setenv(name, value)
        if row.reload:
            shell.extension_manager.reload_extension("mistral_magic")
            shell.run_line_magic("config", "MistralMagics.output = 'markdown'")
        before = history(shell)
        server.reset()
        for name, value in row.config.items():
            shown = value.format(refused=free_port()) if isinstance(value, str) else value
            shell.run_line_magic("config", f"MistralMagics.{name} = {shown!r}")
        if row.reply is not None:
            server.enqueue(ms.reply(row.reply))
        shell.run_line_magic("config", "MistralMagics.max_retries = 0")
        captured, result = run_cell(shell, row.cell)
        with capture_output() as traceback:
            shell.run_line_magic("tb", "")
    assert bool(server.requests) == row.sent
    shown = everything_shown(captured, logs) + traceback.stdout + traceback.stderr
    key = row.environ.get("MISTRAL_API_KEY", "").strip()
    assert_nothing_secret(shown, *([key] if len(key) > 4 else []))
    if row.error is None:
        result.raise_error()
        assert history(shell)[-1] == "Echo: hi"
        before = history(shell)
    else:
        error = result.error_in_exec or result.error_before_exec
        lines = error._render_traceback_() if hasattr(error, "_render_traceback_") else [
            f"{type(error).__name__}: {error}"]
        assert len(lines) == 1 and lines[0].startswith(row.error), lines
        causes = []
        while error is not None:
            causes.append(repr(error) + str(error))
            error = error.__cause__ or error.__context__
        assert_nothing_secret("".join(causes), *([key] if len(key) > 4 else []))
    if row.reply is not None:  # the reply stays on screen, and its text in -o
        assert row.reply in captured.outputs[-1].data["text/markdown"]
        assert shell.user_ns["data"] == row.reply
        before = history(shell)
    shell.run_line_magic("config", f"MistralMagics.base_url = {server.url!r}")
    assert_next_cell_works(shell, before)
