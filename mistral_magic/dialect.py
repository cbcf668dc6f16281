"""Mistral request bodies rewritten for OpenAI-compatible servers, without I/O.

vLLM, Ollama, llama.cpp's server and LM Studio speak OpenAI's dialect of the
chat-completions API: ``seed`` rather than ``random_seed``, ``required``
rather than ``any``, string content, usage in streams only on request. The
Mistral-only options are emulated where that is possible (``safe_prompt``)
and passed on in the form vLLM understands where it is not (``prefix``); each
such request comes back with a notice, so the user is told what happened.
A schema goes as OpenAI's ``json_schema`` (vLLM, Ollama, LM Studio), or as
``json_object`` with a ``schema`` to servers that take only that (llama.cpp's
Python server).
"""

from __future__ import annotations

from typing import Any

from .protocol import content_text

__all__ = ["DIALECTS", "PREFIX_NOTICE", "SAFETY_PROMPT", "SAFE_PROMPT_NOTICE", "notices", "schema_as_json_object",
           "to_openai", "with_safety_prompt"]

DIALECTS = ("mistral", "openai")

# Mistral's own safety prompt, as its documentation gives it.
SAFETY_PROMPT = (
    "Always assist with care, respect, and truth. Respond with utmost utility yet securely. "
    "Avoid harmful, unethical, prejudiced, or negative content. Ensure replies promote "
    "fairness and positivity."
)
SAFE_PROMPT_NOTICE = ("safe_prompt is Mistral-only: the safety prompt was added to the system "
                      "message instead")
PREFIX_NOTICE = ("prefix is Mistral-only: sent as vLLM's continue_final_message; other servers "
                 "may answer after the prefix instead of continuing it")


def to_openai(payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Rewrite a Mistral request body for an OpenAI-compatible server; return it and its notices."""
    body = dict(payload)
    messages = [_flat(message) for message in body["messages"]]
    if "random_seed" in body:
        body["seed"] = body.pop("random_seed")
    if body.get("tool_choice") == "any":
        body["tool_choice"] = "required"
    if body.get("stream"):
        # Ignored by servers without it; vLLM, Ollama and LM Studio then send usage last.
        body["stream_options"] = {"include_usage": True}
    if body.pop("safe_prompt", None):
        messages = with_safety_prompt(messages)
    if messages and messages[-1].get("prefix"):
        messages[-1] = {key: value for key, value in messages[-1].items() if key != "prefix"}
        body.update(continue_final_message=True, add_generation_prompt=False)
    body["messages"] = messages
    return body, notices(payload)


def notices(payload: dict[str, Any]) -> list[str]:
    """What :func:`to_openai` emulates in this body, found without rewriting it."""
    messages = payload["messages"]
    return ([SAFE_PROMPT_NOTICE] if payload.get("safe_prompt") else []) + (
        [PREFIX_NOTICE] if messages and messages[-1].get("prefix") else [])


def schema_as_json_object(body: dict[str, Any]) -> dict[str, Any] | None:
    """``body`` with its ``json_schema`` response format in llama.cpp's form; None if it has no schema."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    schema = response_format.get("json_schema", {}).get("schema", {})
    return {**body, "response_format": {"type": "json_object", "schema": schema}}


def with_safety_prompt(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put Mistral's safety prompt first in the system message, as the hosted API does."""
    if messages and messages[0].get("role") == "system":
        system = content_text(messages[0].get("content"))
        return [{**messages[0], "content": f"{SAFETY_PROMPT}\n\n{system}"}, *messages[1:]]
    return [{"role": "system", "content": SAFETY_PROMPT}, *messages]


def _flat(message: dict[str, Any]) -> dict[str, Any]:
    """Text-only chunk lists become a string: not every OpenAI-compatible server takes lists."""
    content = message.get("content")
    if isinstance(content, list) and all(isinstance(part, dict) and part.get("type") == "text"
                                         for part in content):
        return {**message, "content": content_text(content)}
    return message
