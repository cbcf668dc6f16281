"""A request as the emulator sees it, and what replies, checks and headers read from its body.

Why a module of its own: scripts, validation, batch jobs and the server all read the same few
things from a chat body (its messages, their text, its size), and must agree on them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

CHAT_PATH = "/v1/chat/completions"


@dataclass
class Recorded:
    """One request as the server saw it, so tests can assert on what the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    raw: bytes


def parse_json(raw_body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(raw_body)
    except ValueError:
        return False, None


def text_of(content: Any) -> str:
    """Plain text of a message content: a string, None, or a list of typed chunks (§4.2)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("type") == "text")
    return ""


def is_prefix(message: Any) -> bool:
    return isinstance(message, dict) and message.get("role") == "assistant" and message.get("prefix") is True


def chat_messages(body: dict) -> list[dict]:
    messages = body.get("messages")
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def prompt_words(body: dict) -> int:
    """Stand-in for prompt tokens: whitespace-separated words of all string contents."""
    return sum(len(m["content"].split()) for m in chat_messages(body) if isinstance(m.get("content"), str))
