"""How tool calls read in a reply: one compact line per call, while it streams and in the history.

A cell shows each round of calls as these lines; a panel's transcript and
``%mistral_history`` rebuild the same lines from the turn's messages, so a
tool-calling turn reads alike wherever it is shown (the history has no timings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .protocol import Message, content_text, shorten
from .quoting import code_span

__all__ = ["call_line", "call_text", "round_text", "shown_reply"]

_SHOWN = 80  # characters of arguments or result shown per call


def call_line(name: str, arguments: str, result: str, *, failed: bool, took: str | None = None) -> str:
    """``🔧 `f(x=1)` → `result` · 3 ms``; a failure is marked ⚠."""
    shown = ("⚠ " if failed else "") + code_span(shorten(result, _SHOWN))
    line = f"🔧 {code_span(shorten(call_text(name, arguments), _SHOWN))} → {shown}"
    return f"{line} · {took}" if took else line


def round_text(text: str, lines: Sequence[str]) -> str:
    """What a round of calls adds to the reply shown: its lines, after the text that came with them."""
    return ("\n\n" if text else "") + "  \n".join(lines) + "\n\n"


def shown_reply(messages: Sequence[Message]) -> str:
    """The reply as a cell showed it, from a turn's messages after the user's: text and tool lines."""
    results = {message.get("tool_call_id"): message.get("content") for message in messages
               if message["role"] == "tool"}
    shown = []
    for message in messages:
        if message["role"] != "assistant":
            continue
        text = content_text(message.get("content"))
        calls = message.get("tool_calls") or []
        if not calls:
            shown.append(text)
            continue
        lines = []
        for call in calls:
            result = content_text(results.get(call.get("id")))
            error = _error(result)
            function = call.get("function") or {}
            lines.append(call_line(str(function.get("name", "")), str(function.get("arguments") or ""),
                                   result if error is None else error, failed=error is not None))
        shown.append(text + round_text(text, lines))
    return "".join(shown)


def call_text(name: str, arguments: str) -> str:
    """``name(key="value", n=2)``, or the raw arguments when they are not a JSON object."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return f"{name}({arguments})"
    return f"{name}({', '.join(f'{key}={json.dumps(value, ensure_ascii=False)}' for key, value in parsed.items())})"


def _error(content: str) -> str | None:
    """The problem a failed call sent back as ``{"error": ...}``, or None for a result."""
    try:
        data: Any = json.loads(content)
    except ValueError:
        return None
    return data["error"] if isinstance(data, dict) and list(data) == ["error"] else None
