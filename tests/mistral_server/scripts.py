"""The scripted responses tests queue: replies, error bodies and broken streams.

Why: each test states what the server does next (a reply, a 429, a stall, a cut socket)
instead of patching the client. A Script is a name and a function writing through an
Exchange; a new kind of response or fault is one factory here.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .exchange import Exchange, SseWriter, compact
from .images import describe, image_urls
from .models import wants_reasoning
from .request import chat_messages, is_prefix, prompt_words, text_of

# Default reasoning text of reasoning replies, streamed in two pieces (§6.5).
THINKING_PIECES = ("Let me think", " about it.")


@dataclass
class Script:
    """One scripted response. `run` writes it through the Exchange; a new kind is one factory."""

    kind: str
    run: Callable[[Exchange], None]


def split_words(text: str) -> list[str]:
    """Word-ish pieces that keep their whitespace, so joining them restores the text."""
    return re.findall(r"\S+\s*|\s+", text)


# --------------------------------------------------------------------------- reply


def _cut_at_stop(text: str, stop: Any) -> str:
    """The output never contains a stop sequence (§3.1): cut before the earliest one."""
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str)]
    found = [text.find(s) for s in stops if s and s in text]
    return text[: min(found)] if found else text


def _echo(message: dict) -> str:
    """A user message's text, then `[image: image/png 640×480]` (no size if the header lacks one)
    or `[image: <URL>]` per image."""
    content = message.get("content")
    images = [f"[image: {describe(url)}]" for url in image_urls(content)]
    return " ".join(filter(None, [text_of(content), *images]))


def _default_text(body: dict) -> str:
    """Text that shows what the server received, so tests can assert on it.

    `Echo: <last user message>` (see _echo for its images), `{"echo": ...}` in JSON mode,
    or the prefix followed by " continued." when the last message is a prefix.
    """
    messages = chat_messages(body)
    if messages and is_prefix(messages[-1]):
        text = text_of(messages[-1].get("content")) + " continued."
    else:
        users = [m for m in messages if m.get("role") == "user"]
        echo = _echo(users[-1]) if users else ""
        response_format = body.get("response_format")
        wants_json = isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")
        text = json.dumps({"echo": echo}) if wants_json else f"Echo: {echo}"
    return _cut_at_stop(text, body.get("stop"))


def _default_usage(body: dict, completion_tokens: int) -> dict[str, int]:
    prompt = prompt_words(body)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def _tool_call(call: dict, index: int) -> dict:
    """Complete a tool call to the response shape: 9-char id, type, JSON-string arguments."""
    function = dict(call.get("function") or {"name": call.get("name"), "arguments": call.get("arguments", {})})
    if not isinstance(function.get("arguments"), str):
        function["arguments"] = compact(function.get("arguments") or {})
    return {"id": call.get("id") or uuid.uuid4().hex[:9], "type": "function",
            "function": function, "index": call.get("index", index)}


def _thinking_chunk(text: str) -> dict:
    return {"type": "thinking", "thinking": [{"type": "text", "text": text}]}


def _reasoning_deltas(thinking: list[str], pieces: list[str]) -> list[Any]:
    """Stream contents of a reasoning reply (§6.5): thinking lists, a transition list, then strings.

    The transition list holds the last thinking piece and the first text piece.
    """
    *opening, closing = thinking or [""]
    first, rest = (pieces[0], pieces[1:]) if pieces else ("", [])
    return [*([_thinking_chunk(text)] for text in opening),
            [_thinking_chunk(closing), {"type": "text", "text": first}], *rest]


def _reasoning_content(thinking: list[str], text: str) -> list[dict]:
    """Non-stream content of a reasoning reply (§5): a thinking chunk, then the text chunk."""
    return [_thinking_chunk("".join(thinking)), {"type": "text", "text": text}]


@dataclass
class _Reply:
    """A successful completion, streamed (§6) or as one JSON body (§5), per the request's `stream`."""

    text: str | None = None
    chunks: list[str] | None = None
    finish_reason: str = "stop"
    usage: dict | None = None
    delay: float = 0.0
    crlf: bool = False
    comments: bool = False
    padding: bool = False
    content_list: bool | None = None
    tool_calls: list[dict] | None = None
    headers: dict | None = None
    thinking: list[str] | None = None
    think_delay: float = 0.0

    def __call__(self, ex: Exchange) -> None:
        pieces, finish = self._plan(ex.body)
        usage = self.usage or _default_usage(ex.body, len(pieces))
        calls = [_tool_call(call, i) for i, call in enumerate(self.tool_calls or [])] or None
        thinking = self._thinking(ex.body)
        if ex.stream:
            self._stream(ex, pieces, finish, usage, calls, thinking)
        else:
            self._json(ex, pieces, finish, usage, calls, thinking)

    def _thinking(self, body: dict) -> list[str] | None:
        """The reasoning pieces, None for a plain reply. content_list=None does as the request asks (§5)."""
        if self.thinking is not None:
            return list(self.thinking)
        reasoning = wants_reasoning(body) if self.content_list is None else self.content_list
        return list(THINKING_PIECES) if reasoning else None

    def _plan(self, body: dict) -> tuple[list[str], str]:
        """Content pieces and finish reason. text=None means the echo default, which obeys stop/max_tokens."""
        finish = "tool_calls" if self.tool_calls and self.finish_reason == "stop" else self.finish_reason
        if self.chunks is not None:
            return list(self.chunks), finish
        if self.text is not None or self.tool_calls:
            return split_words(self.text or ""), finish
        pieces = split_words(_default_text(body))
        limit = body.get("max_tokens")
        if isinstance(limit, int) and not isinstance(limit, bool) and len(pieces) > limit:
            return pieces[:limit], "length"
        return pieces, finish

    @staticmethod
    def _deltas(pieces: list[str], calls: list[dict] | None, thinking: list[str] | None) -> list[dict]:
        contents = pieces if thinking is None else _reasoning_deltas(thinking, pieces)
        deltas: list[dict] = [{"content": content} for content in contents]
        if calls:
            deltas.append({"content": "", "tool_calls": calls})
        return deltas or [{"content": ""}]

    def _stream(self, ex: Exchange, pieces: list[str], finish: str, usage: dict, calls: list[dict] | None,
                thinking: list[str] | None) -> None:
        sse = SseWriter(ex, crlf=self.crlf, comments=self.comments, padding=self.padding)
        sse.open(self.headers)
        sse.chunk({"role": "assistant", "content": ""})
        deltas = self._deltas(pieces, calls, thinking)
        transition = -1 if thinking is None else max(len(thinking), 1) - 1
        for i, delta in enumerate(deltas):
            if not ex.pause(self.delay + (self.think_delay if i == transition else 0.0)):
                return ex.hang_up()
            last = i == len(deltas) - 1
            sse.chunk(delta, finish if last else None, usage if last else None)
        sse.done()

    def _json(self, ex: Exchange, pieces: list[str], finish: str, usage: dict, calls: list[dict] | None,
              thinking: list[str] | None) -> None:
        text = "".join(pieces)
        content = text if thinking is None else _reasoning_content(thinking, text)
        message = {"role": "assistant", "content": content, "tool_calls": calls, "prefix": False}
        if not ex.pause(self.delay + (0.0 if thinking is None else self.think_delay)):
            return ex.hang_up()
        ex.send_json(200, {
            "id": ex.id, "object": "chat.completion", "created": ex.created, "model": ex.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }, self.headers)


def reply(text: str | None = None, *, chunks: list[str] | None = None, finish_reason: str = "stop",
          usage: dict | None = None, delay: float = 0.0, crlf: bool = False, comments: bool = False,
          padding: bool = False, content_list: bool | None = None, tool_calls: list[dict] | None = None,
          headers: dict | None = None, thinking: list[str] | None = None, think_delay: float = 0.0) -> Script:
    """A normal successful reply; text=None gives the default echo reply.

    It is a reasoning reply (thinking, then text, §5/§6.5) when the request asks for one
    (Magistral, or reasoning_effort other than "none"), unless content_list says otherwise;
    `thinking` sets its pieces and `think_delay` holds the answer back after them, so a
    client can time the thinking.
    """
    return Script("reply", _Reply(text, chunks, finish_reason, usage, delay, crlf, comments,
                                  padding, content_list, tool_calls, headers, thinking, think_delay))


# --------------------------------------------------------------------------- errors


def error(status: int, body: dict | list | str | None = None, *, headers: dict | None = None) -> Script:
    """Any error status: dict/list bodies as JSON, str as an HTML proxy page, None as empty."""
    def run(ex: Exchange) -> None:
        if isinstance(body, (dict, list)):
            ex.send_json(status, body, headers)
        elif isinstance(body, str):
            ex.send_bytes(status, body.encode(), "text/html; charset=utf-8", headers)
        else:
            ex.send_bytes(status, b"", None, headers)
    return Script(f"error {status}", run)


def _api_error(status: int, message: Any, type_: str, code: str | None) -> Script:
    """The generic hosted-API error object (§7.1)."""
    return error(status, {"object": "error", "message": message, "type": type_, "param": None, "code": code})


def invalid_request(message: str) -> Script:
    """400 for a well-formed request the API still refuses (§7.1), such as a broken image."""
    return _api_error(400, message, "invalid_request_error", None)


def not_found(message: str) -> Script:
    """404 for an unknown file, batch job or model id, as the generic error object (§7.1)."""
    return _api_error(404, message, "invalid_request_error", None)


def unauthorized(shape: str = "message") -> Script:
    """401 in one of the observed shapes (§7.1); never echoes the key."""
    bodies = {"message": {"message": "Unauthorized", "request_id": uuid.uuid4().hex},
              "detail": {"detail": "Unauthorized"}, "empty": None}
    return error(401, bodies[shape])


def invalid_model(name: str) -> Script:
    return _api_error(400, f"Invalid model: {name}", "invalid_model", "1500")


def message_order(msg: str) -> Script:
    return _api_error(400, msg, "invalid_request_message_order", "3230")


def invalid_tool_id(tool_id: Any) -> Script:
    return _api_error(400, f"Tool call id was {tool_id} but must be a-z, A-Z, 0-9, with a length of 9",
                      "invalid_function_call", "3280")


def detail(type_: str, loc: list, msg: str, input_: Any = None) -> dict:
    """One pydantic error item as found inside a 422 body."""
    return {"type": type_, "loc": loc, "msg": msg, "input": input_}


def validation_body(details: list[dict], shape: int) -> dict:
    """A 422 body in one of the three shapes of §7.2."""
    if shape == 1:
        return {"detail": details}
    if shape == 3:
        return {"object": "Error", "detail": details, "message": details,
                "type": "invalid_request_error", "code": 3001}
    return {"object": "error", "message": {"detail": details}, "type": "invalid_request_error",
            "param": None, "code": None}


def validation_error(loc: list, msg: str, shape: int = 2, *, type_: str = "value_error", input_: Any = None) -> Script:
    """422 schema error (shape 2 is the most common real one)."""
    return error(422, validation_body([detail(type_, loc, msg, input_)], shape))


def rate_limited(retry_after: str | None = None, shape: str = "object") -> Script:
    """429 with exhausted x-ratelimit-* headers and an optional Retry-After (§7.3)."""
    bodies = {"object": {"object": "error", "message": "Rate limit exceeded", "type": "rate_limited",
                         "param": None, "code": "1300"},
              "message": {"message": "Requests rate limit exceeded"}}
    headers = {"x-ratelimit-remaining-req-minute": "0", "x-ratelimit-remaining-tokens-minute": "0"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return error(429, bodies[shape], headers=headers)


def server_error(status: int = 500) -> Script:
    return _api_error(status, "Internal server error", "server_error", None)


# --------------------------------------------------------------------------- broken streams


def _partial_stream(ex: Exchange, text: str, after_chunks: int) -> SseWriter:
    """Open a stream and send the role chunk plus the first `after_chunks` pieces of `text`."""
    sse = SseWriter(ex)
    sse.open()
    sse.chunk({"role": "assistant", "content": ""})
    for piece in split_words(text)[:after_chunks]:
        sse.chunk({"content": piece})
    return sse


def stall(seconds: float, *, after_chunks: int = 0, text: str = "partial reply here") -> Script:
    """Go silent (before headers, or after some chunks) until `seconds` pass or the server stops, then close."""
    def run(ex: Exchange) -> None:
        if after_chunks:
            _partial_stream(ex, text, after_chunks)
        ex.pause(seconds)
        ex.hang_up()
    return Script("stall", run)


def drop(after_chunks: int, text: str = "partial reply that is cut") -> Script:
    """Send some chunks, then cut the socket without [DONE]."""
    def run(ex: Exchange) -> None:
        _partial_stream(ex, text, after_chunks)
        ex.cut()
    return Script("drop", run)


def malformed(after_chunks: int = 1) -> Script:
    """Send some chunks, then an event whose data is not JSON, then [DONE]."""
    def run(ex: Exchange) -> None:
        sse = _partial_stream(ex, "partial reply before garbage", after_chunks)
        sse.send("{not json")
        sse.done()
    return Script("malformed", run)


def raw(status: int, headers: dict, body_parts: list[bytes], delay: float = 0.0) -> Script:
    """Write exactly these body parts, one write each (framing tests). No Content-Length: closes at end."""
    def run(ex: Exchange) -> None:
        ex.start(status, headers)
        for i, part in enumerate(body_parts):
            if i and not ex.pause(delay):
                return ex.hang_up()
            ex.write(part)
    return Script("raw", run)
