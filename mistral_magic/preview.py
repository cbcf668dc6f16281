"""``--dry-run``: the request bodies a cell would send, shown instead of sent.

The body is built by the code that builds real requests and rewritten by the
backend as it would be (the openai dialect's form, say), so what is shown is
exactly what would go out. The key travels in a header, never in the body, so
it cannot appear here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .quoting import code_block

if TYPE_CHECKING:
    from .backend import Backend
    from .conversation import Conversation
    from .exchange import Request

__all__ = ["bodies", "markdown"]


def bodies(backend: Backend, conversation: Conversation, requests: list[Request]) -> list[dict[str, Any]]:
    """The body of the first request of each, as ``backend`` would send it; tool rounds would follow."""
    from .exchange import request_body

    return [backend.wire(request_body(request, request.messages(conversation))) for request in requests]


def markdown(shown: list[dict[str, Any]]) -> str:
    """The bodies as pretty JSON, with a line saying nothing was sent; an image's base64 is cut short."""
    what = "this body" if len(shown) == 1 else f"these {len(shown)} bodies, one per combination,"
    blocks = [code_block(json.dumps(_readable(body), indent=2, ensure_ascii=False), "json") for body in shown]
    return "\n\n".join([f"**Dry run**: nothing was sent. The cell would POST {what} "
                        "to `/v1/chat/completions`:", *blocks])


def _readable(value: Any) -> Any:
    """``value`` with each long ``data:`` URI cut to its start and its size (``-o`` keeps it whole)."""
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > _DATA_SHOWN:
        return f"{value[:_DATA_SHOWN]}… ({len(value):,} characters in all)"
    return value


_DATA_SHOWN = 80
