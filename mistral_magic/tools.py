"""``--tools``: Python functions the model may call.

A function becomes a tool as it is written: the name it has in the notebook,
its docstring's summary as the description, and a JSON schema of its
parameters from the signature, the type hints and the docstring's parameter
descriptions (Google, NumPy or Sphinx style). The model's arguments arrive as
JSON; the result goes back as JSON text. A tool that raises sends back
``{"error": "ValueError: ..."}`` instead, so the model can recover or explain,
and the conversation goes on.

The loop that asks, runs the calls and asks again is in ``exchange``; this
module has its pieces: the schemas and running one call (its line is :mod:`.tool_lines`).
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import json
import random
import re
import string
import time
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from .protocol import Message
from .tool_lines import call_line

__all__ = ["ToolRun", "Toolbox", "tool_spec"]

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_ARRAYS = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable)
_OBJECTS = (dict, collections.abc.Mapping)
_UNIONS = (typing.Union, getattr(types, "UnionType", typing.Union))
_SECTION = re.compile(r"(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):?")
_ITEM = re.compile(r"\*{0,2}(\w+)(\s*\([^)]*\))?(\s*):\s*(.*)")
_SPHINX = re.compile(r":param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)")


@dataclass
class ToolRun:
    """One call the model asked for: the tool message that answers it, and the line shown."""

    message: Message
    line: str


class Toolbox:
    """Functions the model may call, their schemas, and how many rounds of calls one turn allows."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]], max_rounds: int = 5) -> None:
        self.functions = dict(functions)
        self.max_rounds = max_rounds
        self.specs = [tool_spec(name, function) for name, function in self.functions.items()]

    @classmethod
    def from_namespace(cls, names: str, max_rounds: int, namespace: Mapping[str, Any]) -> Toolbox:
        """The functions named ``f,g`` in the user's namespace."""
        wanted = list(dict.fromkeys(name.strip() for name in names.split(",") if name.strip()))
        if not wanted:
            raise ValueError("--tools needs the names of functions, separated by commas.")
        missing = [name for name in wanted if name not in namespace]
        if missing:
            raise ValueError(f"--tools: no function named {', '.join(missing)}. Define it in a cell first.")
        uncallable = [name for name in wanted if not callable(namespace[name])]
        if uncallable:
            raise ValueError(f"--tools: {', '.join(uncallable)} cannot be called; give functions.")
        return cls({name: namespace[name] for name in wanted}, max_rounds)

    def options(self, *, last_round: bool) -> dict[str, Any]:
        """Request fields: the tools, and on the last round a demand for a text answer."""
        return {"tools": self.specs, "tool_choice": "none" if last_round else None}

    def asked(self, text: str, calls: list[dict[str, Any]]) -> Message:
        """The assistant message that made ``calls``; a call without an id gets one the API accepts."""
        calls = [{**call, "id": call.get("id") or _new_id()} for call in calls]
        return {"role": "assistant", "content": text, "tool_calls": calls}

    def run(self, call: dict[str, Any]) -> ToolRun:
        """Run one call; an exception becomes the error the model is told about."""
        name = call["function"]["name"]
        raw = call["function"].get("arguments") or ""
        started = time.perf_counter()
        result: str | Exception
        try:
            result = _text(self._function(name)(**_arguments(raw)))
        except Exception as exc:  # the model is told, and the turn goes on
            result = exc
        took = _duration(time.perf_counter() - started)
        if isinstance(result, Exception):
            problem = f"{type(result).__name__}: {result}"
            content = json.dumps({"error": problem}, ensure_ascii=False)
            line = call_line(name, raw, problem, failed=True, took=took)
        else:
            content, line = result, call_line(name, raw, result, failed=False, took=took)
        message: Message = {"role": "tool", "tool_call_id": call["id"], "name": name, "content": content}
        return ToolRun(message, line)

    def _function(self, name: str) -> Callable[..., Any]:
        if name not in self.functions:
            raise LookupError(f"there is no tool named {name!r}; the tools are {', '.join(self.functions)}")
        return self.functions[name]


def tool_spec(name: str, function: Callable[..., Any]) -> dict[str, Any]:
    """The function as the API describes a tool: name, description, JSON schema of its parameters."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"--tools: {name} cannot be a tool name: the API allows letters, digits, "
                         "_ and - (64 at most).")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise ValueError(f"--tools: Python cannot read the parameters of {name}; wrap it in a def.") from None
    hints = _hints(function)
    summary, described = _docstring(inspect.getdoc(function) or "")
    properties: dict[str, Any] = {}
    required = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise ValueError(f"--tools: parameter {parameter.name} of {name} is positional-only, "
                             "but tools are called with named arguments.")
        schema = {**_schema(hints.get(parameter.name, parameter.annotation))}
        if parameter.name in described:
            schema.setdefault("description", described[parameter.name])
        if parameter.default is parameter.empty:
            required.append(parameter.name)
        elif _is_json(parameter.default):
            schema["default"] = parameter.default
        properties[parameter.name] = schema
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": summary, "parameters": parameters}}


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # an annotation this Python cannot evaluate (``int | None`` on 3.9): no type
        return {}


def _schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of a type hint; a hint with no JSON counterpart accepts anything."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        notes = [note for note in args[1:] if isinstance(note, str)]
        return {**_schema(args[0]), **({"description": notes[0]} if notes else {})}
    if isinstance(hint, type) and hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in _UNIONS:
        return {"anyOf": [_schema(arg) for arg in args]}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if hint in _ARRAYS or origin in _ARRAYS:
        items = {arg for arg in args if arg is not Ellipsis}
        return {"type": "array", **({"items": _schema(items.pop())} if len(items) == 1 else {})}
    if hint in _OBJECTS or origin in _OBJECTS:
        return {"type": "object", **({"additionalProperties": _schema(args[1])} if len(args) == 2 else {})}
    return {}


def _docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (first paragraph) and each parameter's description."""
    lines = doc.splitlines()
    summary = []
    for line in lines:
        if not line.strip() or _SECTION.fullmatch(line.strip()) or line.strip().startswith(":"):
            break
        summary.append(line.strip())
    described = {match[1]: match[2].strip() for match in _SPHINX.finditer(doc)}
    for start, line in enumerate(lines):
        if _SECTION.fullmatch(line.strip()):
            described.update(_section(lines[start + 1:]))
    return " ".join(summary), described


def _section(lines: list[str]) -> dict[str, str]:
    """Items of a Google (``name (type): text``) or NumPy (``name : type`` + indented text) section."""
    described: dict[str, list[str]] = {}
    item_indent = None
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or (item_indent is None and set(stripped) == {"-"}):
            continue
        indent = len(line) - len(line.lstrip())
        item_indent = indent if item_indent is None else item_indent
        match = _ITEM.fullmatch(stripped) if indent == item_indent else None
        if match:
            current = described.setdefault(match[1], [])
            if not match[3]:  # NumPy puts the type after " : "; Google puts the text after ":"
                current.append(match[4])
        elif indent > item_indent:
            current.append(stripped)
        else:
            break
    return {name: " ".join(part for part in parts if part) for name, parts in described.items()}


def _arguments(raw: str) -> dict[str, Any]:
    try:
        arguments = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise ValueError(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(arguments, dict):
        raise TypeError("the arguments must be a JSON object of named arguments")
    return arguments


def _text(result: Any) -> str:
    """What the model reads: a string as it is, anything else as JSON (``str()`` where JSON has no form)."""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _new_id() -> str:
    """Nine letters and digits, the form the API requires of tool-call ids."""
    return "".join(random.choices(string.ascii_letters + string.digits, k=9))
