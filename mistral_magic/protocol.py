"""The chat-completions protocol without I/O: payloads, chunks, error bodies.

Both transports (sync and async) and every front end share these, so the
protocol is written once and tested without sockets.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Literal, TypedDict

from .errors import APIStatusError, StreamError

__all__ = [
    "DONE",
    "Message",
    "Reply",
    "TextBuffer",
    "build_payload",
    "content_shown",
    "content_text",
    "parse_chunk",
    "shorten",
    "status_error",
    "thinking_text",
]

DONE = "[DONE]"
_JOIN_EVERY = 256


class Message(TypedDict, total=False):
    """One message of a conversation, as the API takes it."""

    role: Literal["system", "user", "assistant", "tool"]
    content: Any
    prefix: bool
    tool_calls: list[dict[str, Any]]
    tool_call_id: str
    name: str


class TextBuffer:
    """Text that grows by small pieces, held as a few long strings rather than one per chunk."""

    __slots__ = ("_loose", "_parts")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._loose = 0

    def __str__(self) -> str:
        return "".join(self._parts)

    def __bool__(self) -> bool:
        return bool(self._parts)

    def pieces(self) -> list[str]:
        """The text as it is held, to join with other text in one copy."""
        return list(self._parts)

    def append(self, text: str) -> None:
        self._parts.append(text)
        self._loose += 1
        if self._loose == _JOIN_EVERY:
            self._parts[-_JOIN_EVERY:] = ["".join(self._parts[-_JOIN_EVERY:])]
            self._loose = 0


def build_payload(
    model: str, messages: list[Any], options: Mapping[str, Any], *, stream: bool
) -> dict[str, Any]:
    """Make a request body: what is None is not sent, everything else is (0 included)."""
    payload: dict[str, Any] = {"model": model, "messages": messages}
    payload.update((name, value) for name, value in options.items() if value is not None)
    payload["stream"] = stream
    return payload


def parse_chunk(data: str) -> dict[str, Any]:
    """Decode one event's JSON, naming the fault when it is not a chunk."""
    try:
        chunk = json.loads(data)
    except ValueError:
        raise StreamError(f"the stream sent an event that is not JSON: {shorten(data)}") from None
    if not isinstance(chunk, dict):
        raise StreamError(f"the stream sent an event that is not a chunk: {shorten(data)}")
    return chunk


def content_text(content: Any) -> str:
    """The visible text of message content: a string, None, or a list of typed chunks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def content_shown(content: Any, placeholder: Callable[[dict[str, Any]], str]) -> str:
    """Message content as a transcript shows it: its text, and ``placeholder(chunk)`` for each other chunk."""
    if not isinstance(content, list):
        return content_text(content)
    return "\n\n".join(part.get("text", "") if part.get("type") == "text" else placeholder(part)
                       for part in content if isinstance(part, dict))


def thinking_text(content: Any) -> str:
    """The reasoning in message content: the text inside its ``thinking`` chunks (Magistral, ``reasoning_effort``)."""
    if not isinstance(content, list):
        return ""
    return "".join(content_text(part.get("thinking")) for part in content
                   if isinstance(part, dict) and part.get("type") == "thinking")


def _delta_thinking(delta: Mapping[str, Any]) -> str:
    """Reasoning in a delta or message: Mistral's thinking chunks, or the field OpenAI-style servers use."""
    for field_name in ("reasoning_content", "reasoning"):
        if isinstance(delta.get(field_name), str):
            return str(delta[field_name])
    return thinking_text(delta.get("content"))


@dataclass
class Reply:
    """Assembles one assistant reply from stream chunks or a whole response.

    With a ``prefix`` the reply starts with it exactly once, whether or not the
    server repeats it (the hosted API does; others may not). A reasoning model's
    thinking is not part of the text: it goes to ``on_thinking`` as it arrives.
    """

    prefix: str = ""
    parts: TextBuffer = field(default_factory=TextBuffer)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    model: str | None = None
    id: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    first_token: float | None = None
    ended: float | None = None
    thinking: TextBuffer = field(default_factory=TextBuffer)
    on_thinking: Callable[[str], None] | None = None
    _undecided: str | None = None

    def __post_init__(self) -> None:
        if self.prefix:
            self._undecided = ""

    @property
    def text(self) -> str:
        return str(self.parts)

    @property
    def thought_for(self) -> float | None:
        """Seconds from the question to the answer's first text, for a reply that thought first."""
        if not self.thinking:
            return None
        answered = self.first_token or self.ended
        return None if answered is None else answered - self.started

    def add_chunk(self, chunk: Mapping[str, Any]) -> str:
        """Take one stream chunk; return the text it adds to what is shown."""
        try:
            self._take_metadata(chunk)
            added = ""
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue
                delta = choice.get("delta") or {}
                self._think(_delta_thinking(delta))
                added += self._add_text(content_text(delta.get("content")))
                self._merge_tool_calls(delta.get("tool_calls") or ())
                if choice.get("finish_reason"):
                    self.finish_reason = str(choice["finish_reason"])
            return added
        except (AttributeError, TypeError, ValueError) as exc:
            raise StreamError(f"the stream sent a chunk of an unexpected shape: {shorten(str(chunk))}") from exc

    def add_response(self, response: Mapping[str, Any]) -> str:
        """Take a whole (non-streamed) response; return its text."""
        self._take_metadata(response)
        choice = (response.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        self.finish_reason = choice.get("finish_reason")
        self._merge_tool_calls(message.get("tool_calls") or ())
        self._think(_delta_thinking(message))
        return self._add_text(content_text(message.get("content")))

    def finish(self) -> str:
        """Mark the reply complete; return text still held back, if any."""
        self.ended = time.perf_counter()
        if self._undecided is None:
            return ""
        # What arrived was shorter than the prefix and agreed with it: a repeat.
        self._undecided = None
        self.parts.append(self.prefix)
        return self.prefix

    def _take_metadata(self, chunk: Mapping[str, Any]) -> None:
        self.id = self.id or chunk.get("id")
        self.model = self.model or chunk.get("model")
        if chunk.get("usage"):
            self.usage = dict(chunk["usage"])

    def _think(self, text: str) -> None:
        if not text:
            return
        self.thinking.append(text)
        if self.on_thinking is not None:
            self.on_thinking(text)

    def _add_text(self, text: str) -> str:
        if not text:
            return ""
        if self.first_token is None:
            self.first_token = time.perf_counter()
        if self._undecided is not None:
            text = self._after_prefix(text)
        if text:
            self.parts.append(text)
        return text

    def _after_prefix(self, text: str) -> str:
        held = self._undecided + text  # type: ignore[operator]
        if len(held) < len(self.prefix) and self.prefix.startswith(held):
            self._undecided = held
            return ""
        self._undecided = None
        rest = held[len(self.prefix):] if held.startswith(self.prefix) else held
        return self.prefix + rest

    def _merge_tool_calls(self, calls: Any) -> None:
        # Mistral sends whole calls; OpenAI-style servers send fragments by index.
        for call in calls:
            index = call.get("index", len(self.tool_calls))
            while len(self.tool_calls) <= index:
                self.tool_calls.append({"id": None, "type": "function",
                                        "function": {"name": "", "arguments": ""}})
            merged = self.tool_calls[index]
            merged["id"] = call.get("id") or merged["id"]
            function = call.get("function") or {}
            merged["function"]["name"] += function.get("name") or ""
            arguments = function.get("arguments") or ""
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            merged["function"]["arguments"] += arguments


def status_error(status: int, body: bytes, headers: Mapping[str, str], key_env: str,
                 server: str | None = None) -> APIStatusError:
    """Map an error response to one sentence: who answered (``server``, else Mistral's API), the status,
    the server's words, what to do."""
    detail, error_type = _error_detail(body)
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    retry_after = _retry_after(headers.get("retry-after"))
    said = f": {detail}" if detail else ""
    hint = _hint(status, error_type, key_env, retry_after, server)
    message = f"{server or 'Mistral API'} answered {status} {phrase}{said}. {hint}"
    return APIStatusError(message.strip(), status=status, error_type=error_type, retry_after=retry_after)


def _hint(status: int, error_type: str | None, key_env: str, retry_after: float | None,
          server: str | None) -> str:
    if status == 401:
        return f"Check the key in {key_env}."
    if status == 403:
        return "The key's workspace may not have access to this model."
    if status == 404:
        root = "the part of its URL before /v1" if server else "such as https://api.mistral.ai"
        return f"Check the base URL: it should be the API's root, {root}."
    if error_type == "invalid_model":
        return "List the models your key can use with %mistral_models."
    if status == 429:
        wait = f"in {retry_after:g} s" if retry_after else "in a moment"
        return f"Rate limited: re-run the cell {wait}."
    if status >= 500:
        return "The service had a problem: re-run the cell in a moment."
    return ""


def _error_detail(body: bytes) -> tuple[str, str | None]:
    """The server's own message in one line, from any of the error shapes it uses."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return shorten(_strip_html(text)), None
    if not isinstance(data, dict):
        return shorten(text), None
    error_type = data.get("type") if isinstance(data.get("type"), str) else None
    message = data.get("message")
    if isinstance(message, str) and message.startswith("{"):
        with contextlib.suppress(ValueError):
            message = json.loads(message)
    if isinstance(data.get("error"), dict):  # OpenAI-compatible servers
        message = data["error"].get("message")
    detail = message.get("detail") if isinstance(message, dict) else data.get("detail")
    if isinstance(detail, list) and detail:
        return shorten("; ".join(_validation_item(item) for item in detail)), error_type
    for candidate in (detail, message):
        if isinstance(candidate, str) and candidate:
            return shorten(candidate), error_type
    return "", error_type


def _validation_item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    loc = [str(part) for part in item.get("loc") or () if part != "body"]
    where = ".".join(loc)
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", ""))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _strip_html(text: str) -> str:
    if "<" not in text:
        return text
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    found = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    return html.unescape(found)


def shorten(text: str, width: int = 200) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"
