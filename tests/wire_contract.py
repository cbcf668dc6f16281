"""Request bodies checked against the official client's request models, strictly.

``ChatCompletionRequest`` and ``ChatCompletionStreamRequest`` (``mistralai``) are
the reference for what a body may hold: JSON types as they declare them (strict
validation, so ``"0.2"`` is no temperature) and no field they do not define
(pydantic ignores unknown fields, so a field that does not come back out of the
model is one the API would refuse).
"""

from __future__ import annotations

import json
from typing import Any


def assert_valid_chat_request(body: dict) -> None:
    from mistralai.client import models

    request = models.ChatCompletionStreamRequest if body.get("stream") else models.ChatCompletionRequest
    parsed = request.model_validate_json(json.dumps(body), strict=True)
    undefined = list(_undefined(body, parsed.model_dump(by_alias=True, mode="json"), "body"))
    assert not undefined, f"fields {request.__name__} does not define: {undefined}"


def _undefined(sent: Any, kept: Any, where: str):
    """The paths of what was sent and did not survive validation."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key, value in sent.items():
            if key not in kept:
                yield f"{where}.{key}"
            else:
                yield from _undefined(value, kept[key], f"{where}.{key}")
    elif isinstance(sent, list) and isinstance(kept, list):
        for i, (value, back) in enumerate(zip(sent, kept)):
            yield from _undefined(value, back, f"{where}[{i}]")
