"""A loopback HTTP server that speaks the Mistral chat-completions wire protocol,
and the Files and Batch APIs a dataset is sent and collected through.

Why: the client is tested against real sockets, real HTTP framing and real SSE
instead of mocks. Wire formats follow the offline API reference
(the Mistral API reference: chat requests, messages, responses, streaming,
errors, batch jobs, and its emulator checklist).

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

Every route needs the key (401 otherwise). POST /v1/files takes a multipart upload and
GET /v1/files/{id}[/content] gives it back (files.py). POST /v1/batch/jobs makes a job over
uploaded JSONL files or inline requests; each GET of it is a poll that moves it on, QUEUED,
then RUNNING for ``batch_polls`` polls, then SUCCESS with an output file (and an error
file for failed lines) of what the chat route answers each line (batch.py)::

    with MistralServer(batch_polls=2) as server:
        server.batch_fail_next = True  # the next job ends FAILED
        ...  # server.files[file_id].content is what was uploaded or written
"""
from .batch import BATCH_PATH, BATCH_STATUSES, BatchJob
from .files import FILE_PURPOSES, FILES_PATH, StoredFile
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
    "BATCH_PATH", "BATCH_STATUSES", "CHAT_PATH", "DEFAULT_MODELS", "FILES_PATH", "FILE_PURPOSES", "MAX_IMAGE_BYTES",
    "REASONING_EFFORT_MODELS", "VISION_MODELS", "BatchJob", "MistralServer", "StoredFile", "drop", "error",
    "invalid_model", "invalid_request", "malformed", "message_order", "rate_limited", "raw", "reply",
    "server_error", "stall", "unauthorized", "validation_error",
]
