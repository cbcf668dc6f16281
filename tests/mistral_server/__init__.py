"""A loopback HTTP server that speaks the Mistral chat-completions wire protocol.

Why: the client is tested against real sockets, real HTTP framing and real SSE
instead of mocks. Wire formats follow the offline API reference
(the Mistral API reference: chat requests, messages, responses, streaming,
errors, and its emulator checklist).

In-process use (pytest, with tests/ on sys.path)::

    with MistralServer() as server:
        server.enqueue(rate_limited(retry_after="1"), reply("Hi there!"))
        server.enqueue(reply("42", thinking=["Let me", " think."], think_delay=0.3))
        ...  # point the client at server.url with the API key "test-key"

Standalone use: ``python -m mistral_server`` from tests/ (see __main__.py).

Every POST /v1/chat/completions is validated first (auth, schema, model,
reasoning_effort, message order, tool-call ids, images; validation.py). If that
passes, the next queued Script (scripts.py) answers it; with an empty queue the
default reply echoes the last user message and its images
(``Echo: What is this? [image: image/png 640×480]``), as a reasoning reply
(thinking, then text) when the request asks for one. models.py says which model
sees images or reasons, images.py what an image must be; server.py holds the HTTP
side, exchange.py how responses are written.
"""
from .images import MAX_IMAGE_BYTES
from .models import DEFAULT_MODELS, REASONING_EFFORT_MODELS, VISION_MODELS
from .scripts import (
    drop,
    error,
    invalid_model,
    invalid_request,
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
from .server import CHAT_PATH, MistralServer

__all__ = [
    "CHAT_PATH", "DEFAULT_MODELS", "MAX_IMAGE_BYTES", "REASONING_EFFORT_MODELS", "VISION_MODELS",
    "MistralServer", "drop", "error", "invalid_model", "invalid_request", "malformed", "message_order",
    "rate_limited", "raw", "reply", "server_error", "stall", "unauthorized", "validation_error",
]
