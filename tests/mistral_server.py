#!/usr/bin/env python3
"""A loopback HTTP server that speaks the Mistral chat-completions wire protocol.

Why: the client is tested against real sockets, real HTTP framing and real SSE
instead of mocks. Wire formats follow the offline API reference
(the Mistral API reference: chat requests, messages, responses, streaming,
errors, and its emulator checklist).

In-process use (pytest)::

    with MistralServer() as server:
        server.enqueue(rate_limited(retry_after="1"), reply("Hi there!"))
        ...  # point the client at server.url with the API key "test-key"

Standalone use (notebook tests, benchmarks)::

    python tests/mistral_server.py --port 0 [--key KEY] [--chunk-delay SECONDS]
    # prints "READY http://127.0.0.1:PORT" and serves until killed

Every POST /v1/chat/completions is validated first (auth, schema, model, message
order, tool-call ids). If that passes, the next queued Script answers it; with an
empty queue the default reply echoes the last user message.
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import socketserver
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"

DEFAULT_MODELS = (
    "mistral-small-latest",
    "mistral-large-latest",
    "mistral-medium-latest",
    "ministral-8b-latest",
    "codestral-latest",
    "mistral-tiny",
    "open-mistral-nemo",
)

# Top-level request fields of the §3.1 table; anything else is a 422 (additionalProperties: false).
ALLOWED_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "metadata", "response_format", "tools", "tool_choice",
    "presence_penalty", "frequency_penalty", "n", "prediction", "parallel_tool_calls",
    "reasoning_effort", "prompt_mode", "guardrails", "prompt_cache_key", "safe_prompt",
})

# Allowed keys per message role (§4.1).
MESSAGE_FIELDS = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}

TOOL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")
EXTRA_FORBIDDEN = "Extra inputs are not permitted"
# Reasoning text of content_list replies, streamed in two pieces (§6.5).
THINKING_PIECES = ("Let me think", " about it.")
RATE_LIMIT_REQ_MINUTE = 120
RATE_LIMIT_TOKENS_MINUTE = 500_000


# --------------------------------------------------------------------------- data


@dataclass
class Recorded:
    """One request as the server saw it, so tests can assert on what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    raw: bytes


@dataclass
class Script:
    """One scripted response. `run` writes it through the Exchange; a new kind is one factory."""

    kind: str
    run: Callable[["Exchange"], None]


# --------------------------------------------------------------------------- helpers


def _compact(obj: Any) -> str:
    """JSON the way api.mistral.ai sends it: no spaces after separators, raw UTF-8."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def split_words(text: str) -> list[str]:
    """Word-ish pieces that keep their whitespace, so joining them restores the text."""
    return re.findall(r"\S+\s*|\s+", text)


def _text_of(content: Any) -> str:
    """Plain text of a message content: a string, None, or a list of typed chunks (§4.2)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
    return ""


def _is_prefix(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant" and message.get("prefix") is True


def _messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _prompt_words(body: dict) -> int:
    """Stand-in for prompt tokens: whitespace-separated words of all string contents."""
    return sum(len(m["content"].split()) for m in _messages(body) if isinstance(m.get("content"), str))


def _default_usage(body: dict, completion_tokens: int) -> dict[str, int]:
    prompt = _prompt_words(body)
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens, "total_tokens": prompt + completion_tokens}


def _merge_headers(base: dict[str, str], extra: dict[str, Any]) -> dict[str, str]:
    """Overlay headers case-insensitively, so a script can replace any default header."""
    merged = dict(base)
    for name, value in extra.items():
        for existing in [k for k in merged if k.lower() == name.lower()]:
            del merged[existing]
        merged[name] = str(value)
    return merged


def _has_header(headers: dict[str, str], name: str) -> bool:
    return any(k.lower() == name for k in headers)


def _padding() -> str:
    """Random-length filler like the real `p` key (§6.2), which clients must ignore."""
    pad = uuid.uuid4().hex
    return pad[: 4 + int(pad[0], 16)]


def _tool_call(call: dict, index: int) -> dict:
    """Complete a tool call to the response shape: 9-char id, type, JSON-string arguments."""
    function = dict(call.get("function") or {"name": call.get("name"), "arguments": call.get("arguments", {})})
    if not isinstance(function.get("arguments"), str):
        function["arguments"] = _compact(function.get("arguments") or {})
    return {"id": call.get("id") or uuid.uuid4().hex[:9], "type": "function",
            "function": function, "index": call.get("index", index)}


def _model_card(model_id: str, created: int) -> dict:
    """A BaseModelCard in the §1.3 schema form."""
    capabilities = dict.fromkeys(
        ("completion_chat", "function_calling", "completion_fim", "fine_tuning", "vision", "ocr",
         "classification", "moderation", "audio", "audio_transcription"), False)
    capabilities.update(completion_chat=True, function_calling=True, completion_fim="codestral" in model_id)
    return {"id": model_id, "object": "model", "created": created, "owned_by": "mistralai",
            "capabilities": capabilities, "name": model_id, "description": f"Emulated {model_id}",
            "max_context_length": 131072, "aliases": [], "deprecation": None,
            "deprecation_replacement_model": None, "default_model_temperature": 0.3, "type": "base"}


# --------------------------------------------------------------------------- exchange


class Exchange:
    """One request being answered; scripts write their response through it."""

    def __init__(self, handler: _Handler, body: dict) -> None:
        self.handler = handler
        self.server: MistralServer = handler.server.owner
        self.body = body
        self.id = uuid.uuid4().hex
        self.created = int(time.time())

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    def start(self, status: int, headers: dict | None = None, *,
              content_type: str | None = None, length: int | None = None) -> None:
        """Send status and headers. Without Content-Length the body is framed by closing the connection."""
        merged = self.server._rate_limit_headers(self.body)
        if content_type:
            merged["Content-Type"] = content_type
        if length is not None:
            merged["Content-Length"] = str(length)
        merged = _merge_headers(merged, headers or {})
        if not _has_header(merged, "content-length"):
            merged = _merge_headers(merged, {"Connection": "close"})
        self.handler.send_response(status)
        for name, value in merged.items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def send_bytes(self, status: int, data: bytes, content_type: str | None, headers: dict | None = None) -> None:
        self.start(status, headers, content_type=content_type, length=len(data))
        self.write(data)

    def send_json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self.send_bytes(status, _compact(obj).encode(), "application/json", headers)

    def write(self, data: bytes) -> None:
        """Write and flush at once, so every part reaches the client as its own TCP write."""
        self.handler.wfile.write(data)
        self.handler.wfile.flush()

    def pause(self, seconds: float) -> bool:
        """Sleep, but wake at once when the server stops. False means: stop writing."""
        if seconds <= 0:
            return not self.server._stopping.is_set()
        return not self.server._stopping.wait(seconds)

    def hang_up(self) -> None:
        """Close the connection after the handler returns, sending nothing more."""
        self.handler.close_connection = True

    def cut(self) -> None:
        """Close the socket abruptly, mid-response."""
        self.hang_up()
        try:
            self.handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.handler.connection.close()


class SseWriter:
    """Writes SSE events as api.mistral.ai frames them (§6.1), one write+flush per event."""

    def __init__(self, ex: Exchange, *, crlf: bool = False, comments: bool = False, padding: bool = False) -> None:
        self.ex = ex
        self.eol = "\r\n" if crlf else "\n"
        self.comments = comments
        self.padding = padding
        self.sent = 0

    def open(self, headers: dict | None = None) -> None:
        self.ex.start(200, headers, content_type="text/event-stream")

    def send(self, data: str) -> None:
        if self.comments and self.sent:
            self.ex.write(f": ping{self.eol}{self.eol}".encode())
        self.ex.write(f"data: {data}{self.eol}{self.eol}".encode())
        self.sent += 1

    def chunk(self, delta: dict, finish_reason: str | None = None, usage: dict | None = None) -> None:
        event: dict[str, Any] = {
            "id": self.ex.id, "object": "chat.completion.chunk", "created": self.ex.created,
            "model": self.ex.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if usage is not None:
            event["usage"] = usage
        if self.padding:
            event["p"] = _padding()
        self.send(_compact(event))

    def done(self) -> None:
        self.send("[DONE]")


def _partial_stream(ex: Exchange, text: str, after_chunks: int) -> SseWriter:
    """Open a stream and send the role chunk plus the first `after_chunks` pieces of `text`."""
    sse = SseWriter(ex)
    sse.open()
    sse.chunk({"role": "assistant", "content": ""})
    for piece in split_words(text)[:after_chunks]:
        sse.chunk({"content": piece})
    return sse


# --------------------------------------------------------------------------- reply


def _cut_at_stop(text: str, stop: Any) -> str:
    """The output never contains a stop sequence (§3.1): cut before the earliest one."""
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str)]
    found = [text.find(s) for s in stops if s and s in text]
    return text[: min(found)] if found else text


def _default_text(body: dict) -> str:
    """Text that shows what the server received, so tests can assert on it."""
    messages = _messages(body)
    if messages and _is_prefix(messages[-1]):
        text = _text_of(messages[-1].get("content")) + " continued."
    else:
        users = [m for m in messages if m.get("role") == "user"]
        echo = _text_of(users[-1].get("content")) if users else ""
        response_format = body.get("response_format")
        wants_json = isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")
        text = json.dumps({"echo": echo}) if wants_json else f"Echo: {echo}"
    return _cut_at_stop(text, body.get("stop"))


def _reasoning_deltas(pieces: list[str]) -> list[Any]:
    """Stream contents of a reasoning reply (§6.5): a thinking list, a transition list, then strings."""
    def thinking(text: str) -> dict:
        return {"type": "thinking", "thinking": [{"type": "text", "text": text}]}

    first, rest = (pieces[0], pieces[1:]) if pieces else ("", [])
    return [[thinking(THINKING_PIECES[0])], [thinking(THINKING_PIECES[1]), {"type": "text", "text": first}], *rest]


def _reasoning_content(text: str) -> list[dict]:
    """Non-stream content of a reasoning reply (§5): a thinking chunk, then the text chunk."""
    thinking = [{"type": "text", "text": "".join(THINKING_PIECES)}]
    return [{"type": "thinking", "thinking": thinking}, {"type": "text", "text": text}]


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
    content_list: bool = False
    tool_calls: list[dict] | None = None
    headers: dict | None = None

    def __call__(self, ex: Exchange) -> None:
        pieces, finish = self._plan(ex.body)
        usage = self.usage or _default_usage(ex.body, len(pieces))
        calls = [_tool_call(call, i) for i, call in enumerate(self.tool_calls or [])] or None
        if ex.stream:
            self._stream(ex, pieces, finish, usage, calls)
        else:
            self._json(ex, pieces, finish, usage, calls)

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

    def _deltas(self, pieces: list[str], calls: list[dict] | None) -> list[dict]:
        contents = _reasoning_deltas(pieces) if self.content_list else pieces
        deltas: list[dict] = [{"content": content} for content in contents]
        if calls:
            deltas.append({"content": "", "tool_calls": calls})
        return deltas or [{"content": ""}]

    def _stream(self, ex: Exchange, pieces: list[str], finish: str, usage: dict, calls: list[dict] | None) -> None:
        sse = SseWriter(ex, crlf=self.crlf, comments=self.comments, padding=self.padding)
        sse.open(self.headers)
        sse.chunk({"role": "assistant", "content": ""})
        deltas = self._deltas(pieces, calls)
        for i, delta in enumerate(deltas):
            if not ex.pause(self.delay):
                return ex.hang_up()
            last = i == len(deltas) - 1
            sse.chunk(delta, finish if last else None, usage if last else None)
        sse.done()

    def _json(self, ex: Exchange, pieces: list[str], finish: str, usage: dict, calls: list[dict] | None) -> None:
        text = "".join(pieces)
        content = _reasoning_content(text) if self.content_list else text
        message = {"role": "assistant", "content": content, "tool_calls": calls, "prefix": False}
        if not ex.pause(self.delay):
            return ex.hang_up()
        ex.send_json(200, {
            "id": ex.id, "object": "chat.completion", "created": ex.created, "model": ex.model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": usage,
        }, self.headers)


# --------------------------------------------------------------------------- script factories


def reply(text: str | None = None, *, chunks: list[str] | None = None, finish_reason: str = "stop",
          usage: dict | None = None, delay: float = 0.0, crlf: bool = False, comments: bool = False,
          padding: bool = False, content_list: bool = False, tool_calls: list[dict] | None = None,
          headers: dict | None = None) -> Script:
    """A normal successful reply; text=None gives the default echo reply."""
    return Script("reply", _Reply(text, chunks, finish_reason, usage, delay, crlf, comments,
                                  padding, content_list, tool_calls, headers))


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


def unauthorized(shape: str = "message") -> Script:
    """401 in one of the observed shapes (§7.1); never echoes the key."""
    bodies = {"message": {"message": "Unauthorized", "request_id": uuid.uuid4().hex},
              "detail": {"detail": "Unauthorized"}, "empty": None}
    return error(401, bodies[shape])


def invalid_model(name: str) -> Script:
    return _api_error(400, f"Invalid model: {name}", "invalid_model", "1500")


def message_order(msg: str) -> Script:
    return _api_error(400, msg, "invalid_request_message_order", "3230")


def _invalid_tool_id(tool_id: Any) -> Script:
    return _api_error(400, f"Tool call id was {tool_id} but must be a-z, A-Z, 0-9, with a length of 9",
                      "invalid_function_call", "3280")


def _detail(type_: str, loc: list, msg: str, input_: Any = None) -> dict:
    """One pydantic error item as found inside a 422 body."""
    return {"type": type_, "loc": loc, "msg": msg, "input": input_}


def _validation_body(details: list[dict], shape: int) -> dict:
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
    return error(422, _validation_body([_detail(type_, loc, msg, input_)], shape))


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


# --------------------------------------------------------------------------- validation


def _parse_json(raw_body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(raw_body)
    except ValueError:
        return False, None


def _message_problems(i: int, message: Any) -> list[dict]:
    """Per-role key check (§4.1); loc includes the role tag as the real API reports it."""
    loc: list = ["body", "messages", i]
    if not isinstance(message, dict):
        return [_detail("model_attributes_type", loc, "Input should be a valid dictionary or object", message)]
    role = message.get("role")
    if role is None:
        return [_detail("union_tag_not_found", loc, "Unable to extract tag using discriminator 'role'", message)]
    if role not in MESSAGE_FIELDS:
        msg = (f"Input tag '{role}' found using 'role' does not match any of the expected tags: "
               "'system', 'user', 'assistant', 'tool'")
        return [_detail("union_tag_invalid", loc, msg, message)]
    return [_detail("extra_forbidden", [*loc, role, key], EXTRA_FORBIDDEN, value)
            for key, value in message.items() if key not in MESSAGE_FIELDS[role]]


def _messages_problems(messages: Any) -> list[dict]:
    if not isinstance(messages, list):
        return [_detail("list_type", ["body", "messages"], "Input should be a valid list", messages)]
    if not messages:
        return [_detail("missing", ["body", "messages"], "Field required: messages must not be empty", messages)]
    return [problem for i, message in enumerate(messages) for problem in _message_problems(i, message)]


def _schema_problems(raw_body: bytes) -> list[dict]:
    """Everything pydantic would reject with a 422, collected like pydantic does."""
    ok, body = _parse_json(raw_body)
    if not ok:
        return [_detail("json_invalid", ["body", 0], "JSON decode error", {})]
    if not isinstance(body, dict):
        return [_detail("model_attributes_type", ["body"], "Input should be a valid dictionary or object", body)]
    problems = [_detail("extra_forbidden", ["body", key], EXTRA_FORBIDDEN, value)
                for key, value in body.items() if key not in ALLOWED_FIELDS]
    problems += [_detail("missing", ["body", name], "Field required", body)
                 for name in ("model", "messages") if name not in body]
    if "messages" in body:
        problems += _messages_problems(body["messages"])
    return problems


def _order_problem(messages: list[dict]) -> Script | None:
    """Serving-mode role order (§4.3): prefix only last, last is user/tool/prefix, prefix non-empty."""
    if any(_is_prefix(m) for m in messages[:-1]):
        return message_order("Assistant message with prefix True must be last message")
    last = messages[-1]
    if last["role"] in ("user", "tool"):
        return None
    if not _is_prefix(last):
        return message_order("Expected last role User or Tool (or Assistant with prefix True) "
                             f"for serving but got {last['role']}")
    if not _text_of(last.get("content")):
        return message_order("Assistant message with prefix True must have non-empty content")
    return None


def _tool_ids(message: dict) -> list[Any]:
    if message["role"] == "assistant":
        calls = message.get("tool_calls") or []
        return [call.get("id", "null") if isinstance(call, dict) else None for call in calls]
    if message["role"] == "tool" and message.get("tool_call_id") is not None:
        return [message["tool_call_id"]]
    return []


def _tool_id_problem(messages: list[dict]) -> Script | None:
    for message in messages:
        for tool_id in _tool_ids(message):
            if not isinstance(tool_id, str) or not TOOL_CALL_ID.fullmatch(tool_id):
                return _invalid_tool_id(tool_id)
    return None


def _authorized(headers: dict[str, str], api_key: str) -> bool:
    return headers.get("authorization") == f"Bearer {api_key}"


def validate_chat(rec: Recorded, api_key: str, models: tuple[str, ...]) -> Script | None:
    """The error a chat request earns, checked in the hosted API's order (§10); None if it is valid."""
    if not _authorized(rec.headers, api_key):
        return unauthorized()
    problems = _schema_problems(rec.raw)
    if problems:
        return error(422, _validation_body(problems, 2))
    body = json.loads(rec.raw)
    if body["model"] not in models:
        return invalid_model(body["model"])
    return _order_problem(body["messages"]) or _tool_id_problem(body["messages"])


# --------------------------------------------------------------------------- HTTP plumbing


def _answer_chat(ex: Exchange, rec: Recorded) -> None:
    server = ex.server
    failure = validate_chat(rec, server.api_key, server.models)
    script = failure or server._next_script() or reply(delay=server.chunk_delay)
    script.run(ex)


def _answer_models(ex: Exchange, rec: Recorded) -> None:
    if not _authorized(rec.headers, ex.server.api_key):
        return unauthorized().run(ex)
    ex.send_json(200, {"object": "list", "data": [_model_card(m, ex.created) for m in ex.server.models]})


ROUTES: dict[str, tuple[str, Callable[[Exchange, Recorded], None]]] = {
    CHAT_PATH: ("POST", _answer_chat),
    MODELS_PATH: ("GET", _answer_models),
}


class _Handler(BaseHTTPRequestHandler):
    """Records each request, then routes it. HTTP/1.1 so JSON replies can use keep-alive."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each write+flush leaves as its own segment
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay silent: test output should only show test failures."""

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            rec = self._record()
            self._route(rec)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away; nothing to report

    def _record(self) -> Recorded:
        raw_body = self._read_body()
        ok, parsed = _parse_json(raw_body)
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                       parsed if ok and isinstance(parsed, dict) else None, raw_body)
        self.server.owner._record(rec)
        return rec

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return b"".join(parts)

    def _route(self, rec: Recorded) -> None:
        ex = Exchange(self, rec.body or {})
        route = ROUTES.get(rec.path.split("?", 1)[0])
        if route is None:
            return ex.send_json(404, {"detail": "Not Found"})
        method, answer = route
        if rec.method != method:
            return ex.send_json(405, {"detail": "Method Not Allowed"})
        answer(ex, rec)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # soak tests open hundreds of connections at once

    def __init__(self, owner: MistralServer, port: int) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        """Skip HTTPServer's getfqdn() reverse lookup, which can be slow in sandboxes."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects are normal in these tests; anything else is a bug worth a traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


# --------------------------------------------------------------------------- public server


class MistralServer:
    """A Mistral API emulator on 127.0.0.1, with a FIFO queue of scripted chat responses."""

    def __init__(self, api_key: str = "test-key", models: tuple[str, ...] = DEFAULT_MODELS, *,
                 chunk_delay: float = 0.0) -> None:
        self.api_key = api_key
        self.models = tuple(models)
        self.chunk_delay = chunk_delay
        self.url = ""
        self.requests: list[Recorded] = []
        self._queue: deque[Script] = deque()
        self._lock = threading.Lock()
        self._count = 0
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int = 0) -> MistralServer:
        self._stopping.clear()
        self._httpd = _HTTPServer(self, port)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="mistral-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: the event releases stalled handlers; idle keep-alive sockets are shut too."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> MistralServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *scripts: Script) -> None:
        with self._lock:
            self._queue.extend(scripts)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def last_body(self) -> dict:
        """JSON body of the most recent chat request (LookupError if there was none)."""
        with self._lock:
            chats = [r for r in self.requests if r.path.split("?", 1)[0] == CHAT_PATH]
        if not chats:
            raise LookupError("no chat request received yet")
        return chats[-1].body or {}

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)
            self._count += 1

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _close_connections(self) -> None:
        """Wake handlers blocked reading the next keep-alive request, so nothing is served after stop()."""
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _next_script(self) -> Script | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _rate_limit_headers(self, body: dict) -> dict[str, str]:
        """Plausible per-minute budgets (§7.3): the request count and word count drive them."""
        cost = _prompt_words(body)
        used = (self._count - 1) % RATE_LIMIT_REQ_MINUTE + 1
        return {
            "x-ratelimit-limit-req-minute": str(RATE_LIMIT_REQ_MINUTE),
            "x-ratelimit-remaining-req-minute": str(RATE_LIMIT_REQ_MINUTE - used),
            "x-ratelimit-limit-tokens-minute": str(RATE_LIMIT_TOKENS_MINUTE),
            "x-ratelimit-remaining-tokens-minute": str(RATE_LIMIT_TOKENS_MINUTE - cost),
            "x-ratelimit-tokens-query-cost": str(cost),
        }


# --------------------------------------------------------------------------- standalone


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Loopback Mistral API emulator (default replies only).")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    parser.add_argument("--key", default="test-key", help="the accepted API key")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds to sleep between SSE chunks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve until killed; the READY line tells the parent process where."""
    args = _parse_args(argv)
    server = MistralServer(args.key, chunk_delay=args.chunk_delay).start(args.port)
    print(f"READY {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
