"""A loopback HTTP server that speaks the Mistral chat-completions wire protocol.

Why: the client is tested against real sockets, real HTTP framing and real SSE
instead of mocks. Wire formats follow the offline API reference
(the Mistral API reference: chat requests, messages, responses, streaming,
errors, and its emulator checklist).

In-process use (pytest, with tests/ on sys.path)::

    with MistralServer() as server:
        server.enqueue(rate_limited(retry_after="1"), reply("Hi there!"))
        ...  # point the client at server.url with the API key "test-key"

Standalone use: ``python -m mistral_server`` from tests/ (see __main__.py).

Every POST /v1/chat/completions is validated first (auth, schema, model, message
order, tool-call ids; validation.py). If that passes, the next queued Script
(scripts.py) answers it; with an empty queue the default reply echoes the last
user message. server.py holds the HTTP side, exchange.py how responses are written.
"""
from .scripts import (
    drop,
    error,
    invalid_model,
    malformed,
    message_order,
    rate_limited,
    raw,
    reply,
    server_error,
    stall,
    unauthorized,
    validation_error,
)
from .server import CHAT_PATH, DEFAULT_MODELS, MistralServer

__all__ = [
    "CHAT_PATH", "DEFAULT_MODELS", "MistralServer", "drop", "error", "invalid_model", "malformed",
    "message_order", "rate_limited", "raw", "reply", "server_error", "stall", "unauthorized",
    "validation_error",
]
