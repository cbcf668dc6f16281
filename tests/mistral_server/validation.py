"""How a chat request is checked before any script answers it, with the hosted API's errors.

Why: the client must cope with the errors the real API sends for a bad request, so every
request is checked as api.mistral.ai checks it (§10): the key (for every route, by the
server), then the schema (422 with pydantic-style details), then the model, reasoning_effort,
the role order, the tool-call ids and the images. The body checks need no request around
them, so batch lines (batch.py) are checked by the same code.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .images import ImageError, decode, image_urls
from .models import REASONING_EFFORTS, accepts_reasoning_effort, has_vision
from .request import is_prefix, parse_json, text_of
from .scripts import (
    Script,
    detail,
    error,
    invalid_model,
    invalid_request,
    invalid_tool_id,
    message_order,
    validation_body,
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

# Content chunk tags (§4.2); system messages take only text and thinking chunks (§4.1).
CHUNK_TYPES = ("text", "image_url", "document_url", "file", "reference", "thinking", "input_audio")
SYSTEM_CHUNK_TYPES = ("text", "thinking")
# Keys of the chunks checked field by field; other chunk types are checked by their tag only.
CHUNK_FIELDS = {"text": frozenset({"type", "text"}), "image_url": frozenset({"type", "image_url"})}
IMAGE_URL_FIELDS = frozenset({"url", "detail"})
IMAGE_DETAILS = ("low", "auto", "high")

TOOL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")
EXTRA_FORBIDDEN = "Extra inputs are not permitted"


def one_of(values: tuple[str, ...]) -> str:
    """pydantic's enum message: Input should be 'a', 'b' or 'c'."""
    quoted = [f"'{value}'" for value in values]
    return f"Input should be {', '.join(quoted[:-1])} or {quoted[-1]}"


def extra_problems(loc: list, obj: dict, allowed: frozenset[str]) -> list[dict]:
    return [detail("extra_forbidden", [*loc, key], EXTRA_FORBIDDEN, value) for key, value in obj.items()
            if key not in allowed]


def _image_url_problems(loc: list, image_url: Any) -> list[dict]:
    """A URL string, or {"url": str, "detail": "low"|"auto"|"high"|null} (§4.2)."""
    if isinstance(image_url, str):
        return []
    if not isinstance(image_url, dict):
        return [detail("string_type", loc, "Input should be a valid string or an object with a url", image_url)]
    problems = extra_problems(loc, image_url, IMAGE_URL_FIELDS)
    if "url" not in image_url:
        problems.append(detail("missing", [*loc, "url"], "Field required", image_url))
    elif not isinstance(image_url["url"], str):
        problems.append(detail("string_type", [*loc, "url"], "Input should be a valid string", image_url["url"]))
    if image_url.get("detail") is not None and image_url["detail"] not in IMAGE_DETAILS:
        problems.append(detail("enum", [*loc, "detail"], one_of(IMAGE_DETAILS), image_url["detail"]))
    return problems


def _chunk_problems(loc: list, chunk: Any, types: tuple[str, ...]) -> list[dict]:
    """One content chunk, tagged by `type`; loc includes the tag as for message roles."""
    if not isinstance(chunk, dict):
        return [detail("model_attributes_type", loc, "Input should be a valid dictionary or object", chunk)]
    kind = chunk.get("type")
    if kind is None:
        return [detail("union_tag_not_found", loc, "Unable to extract tag using discriminator 'type'", chunk)]
    if kind not in types:
        expected = ", ".join(f"'{tag}'" for tag in types)
        msg = f"Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}"
        return [detail("union_tag_invalid", loc, msg, chunk)]
    if kind not in CHUNK_FIELDS:
        return []
    loc = [*loc, kind]
    problems = extra_problems(loc, chunk, CHUNK_FIELDS[kind])
    if kind not in chunk:  # the field is named as the tag: {"type": "text", "text": …}
        return [*problems, detail("missing", [*loc, kind], "Field required", chunk)]
    if kind == "image_url":
        return problems + _image_url_problems([*loc, kind], chunk[kind])
    if not isinstance(chunk[kind], str):
        problems.append(detail("string_type", [*loc, kind], "Input should be a valid string", chunk[kind]))
    return problems


def _content_problems(loc: list, role: str, content: Any) -> list[dict]:
    if not isinstance(content, list):
        return []
    types = SYSTEM_CHUNK_TYPES if role == "system" else CHUNK_TYPES
    return [problem for j, chunk in enumerate(content) for problem in _chunk_problems([*loc, j], chunk, types)]


def _message_problems(i: int, message: Any) -> list[dict]:
    """Per-role key check (§4.1); loc includes the role tag as the real API reports it."""
    loc: list = ["body", "messages", i]
    if not isinstance(message, dict):
        return [detail("model_attributes_type", loc, "Input should be a valid dictionary or object", message)]
    role = message.get("role")
    if role is None:
        return [detail("union_tag_not_found", loc, "Unable to extract tag using discriminator 'role'", message)]
    if role not in MESSAGE_FIELDS:
        msg = (f"Input tag '{role}' found using 'role' does not match any of the expected tags: "
               "'system', 'user', 'assistant', 'tool'")
        return [detail("union_tag_invalid", loc, msg, message)]
    return (extra_problems([*loc, role], message, MESSAGE_FIELDS[role])
            + _content_problems([*loc, role, "content"], role, message.get("content")))


def _messages_problems(messages: Any) -> list[dict]:
    if not isinstance(messages, list):
        return [detail("list_type", ["body", "messages"], "Input should be a valid list", messages)]
    if not messages:
        return [detail("missing", ["body", "messages"], "Field required: messages must not be empty", messages)]
    return [problem for i, message in enumerate(messages) for problem in _message_problems(i, message)]


def _schema_problems(raw_body: bytes) -> list[dict]:
    """Everything pydantic would reject with a 422, collected like pydantic does."""
    ok, body = parse_json(raw_body)
    if not ok:
        return [detail("json_invalid", ["body", 0], "JSON decode error", {})]
    if not isinstance(body, dict):
        return [detail("model_attributes_type", ["body"], "Input should be a valid dictionary or object", body)]
    problems = extra_problems(["body"], body, ALLOWED_FIELDS)
    problems += [detail("missing", ["body", name], "Field required", body)
                 for name in ("model", "messages") if name not in body]
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        problems.append(detail("enum", ["body", "reasoning_effort"], one_of(REASONING_EFFORTS), effort))
    if "messages" in body:
        problems += _messages_problems(body["messages"])
    return problems


def _order_problem(messages: list[dict]) -> Script | None:
    """Serving-mode role order (§4.3): prefix only last, last is user/tool/prefix, prefix non-empty."""
    if any(is_prefix(m) for m in messages[:-1]):
        return message_order("Assistant message with prefix True must be last message")
    last = messages[-1]
    if last["role"] in ("user", "tool"):
        return None
    if not is_prefix(last):
        return message_order("Expected last role User or Tool (or Assistant with prefix True) "
                             f"for serving but got {last['role']}")
    if not text_of(last.get("content")):
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
                return invalid_tool_id(tool_id)
    return None


def _reasoning_effort_problem(body: dict) -> Script | None:
    """Setting reasoning_effort, even to "none", on a model without it is a 400 (§3.1; models.py)."""
    if body.get("reasoning_effort") is None or accepts_reasoning_effort(body["model"]):
        return None
    return invalid_request(f"reasoning_effort is not supported for model {body['model']}")


def _image_problem(messages: list[dict], model: str) -> Script | None:
    """Images (§4.2): for vision models, in user messages, each an http(s) URL or a real image.

    §4.1 lets assistant and tool messages hold any chunk, so they pass the schema; only user
    messages bring images to the model, hence a 400 there rather than a 422.
    """
    found = [(message["role"], url) for message in messages for url in image_urls(message.get("content"))]
    if any(role != "user" for role, _ in found):
        return invalid_request("Images are only accepted in user messages")
    if found and not has_vision(model):
        return invalid_request(f"Model {model} does not support images")
    for _, url in found:
        try:
            decode(url)
        except ImageError as exc:
            return invalid_request(str(exc))
    return None


def authorized(headers: dict[str, str], api_key: str) -> bool:
    return headers.get("authorization") == f"Bearer {api_key}"


def validate_chat(raw_body: bytes, models: tuple[str, ...]) -> Script | None:
    """The error a chat body earns, checked in the hosted API's order (§10); None if it is valid."""
    problems = _schema_problems(raw_body)
    if problems:
        return error(422, validation_body(problems, 2))
    body = json.loads(raw_body)
    model, messages = body["model"], body["messages"]
    if model not in models:
        return invalid_model(model)
    return (_reasoning_effort_problem(body) or _order_problem(messages) or _tool_id_problem(messages)
            or _image_problem(messages, model))
