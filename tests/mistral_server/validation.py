"""How a chat request is checked before any script answers it, with the hosted API's errors.

Why: the client must cope with the errors the real API sends for a bad request, so every
request is checked as api.mistral.ai checks it (§10): the key, then the schema (422 with
pydantic-style details), then the model, the role order and the tool-call ids.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .request import Recorded, is_prefix, parse_json, text_of
from .scripts import (
    Script,
    detail,
    error,
    invalid_model,
    invalid_tool_id,
    message_order,
    unauthorized,
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

TOOL_CALL_ID = re.compile(r"[a-zA-Z0-9]{9}")
EXTRA_FORBIDDEN = "Extra inputs are not permitted"


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
    return [detail("extra_forbidden", [*loc, role, key], EXTRA_FORBIDDEN, value)
            for key, value in message.items() if key not in MESSAGE_FIELDS[role]]


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
    problems = [detail("extra_forbidden", ["body", key], EXTRA_FORBIDDEN, value)
                for key, value in body.items() if key not in ALLOWED_FIELDS]
    problems += [detail("missing", ["body", name], "Field required", body)
                 for name in ("model", "messages") if name not in body]
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


def authorized(headers: dict[str, str], api_key: str) -> bool:
    return headers.get("authorization") == f"Bearer {api_key}"


def validate_chat(rec: Recorded, api_key: str, models: tuple[str, ...]) -> Script | None:
    """The error a chat request earns, checked in the hosted API's order (§10); None if it is valid."""
    if not authorized(rec.headers, api_key):
        return unauthorized()
    problems = _schema_problems(rec.raw)
    if problems:
        return error(422, validation_body(problems, 2))
    body = json.loads(rec.raw)
    if body["model"] not in models:
        return invalid_model(body["model"])
    return _order_problem(body["messages"]) or _tool_id_problem(body["messages"])
