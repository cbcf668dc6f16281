"""One turn of a conversation: build the request, stream into a sink, commit.

The magic and the panel both run turns through here, so a reply is shown,
interrupted and recorded the same way wherever it was asked for.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

from .client import MistralClient
from .conversation import Conversation, Message, Turn
from .errors import MistralError, ReplyInterrupted, StreamError
from .protocol import Reply, build_payload
from .render import Sink

__all__ = ["Request", "footer", "record", "run_turn"]


@dataclass
class Request:
    """What the user asked for in one cell or one panel send."""

    prompt: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""
    stream: bool = True
    record: bool = True
    cell_id: str | None = None

    def messages(self, conversation: Conversation) -> list[Message]:
        history = conversation.messages(self.cell_id, turns=self.record)
        history.append({"role": "user", "content": self.prompt})
        if self.prefix:
            history.append({"role": "assistant", "content": self.prefix, "prefix": True})
        return history


def run_turn(
    client: MistralClient,
    conversation: Conversation,
    request: Request,
    sink: Sink,
    stop: threading.Event | None = None,
) -> Reply:
    """Stream a reply into ``sink``; commit the turn only if the reply completes.

    Setting ``stop`` (a panel's Stop button) ends the reply between chunks as
    Ctrl-C does: what arrived stays, marked, and nothing is committed.
    """
    payload = build_payload(request.model, request.messages(conversation), request.options,
                            stream=request.stream)
    reply = Reply(prefix=request.prefix)
    sink.start()
    try:
        _receive(client, payload, reply, sink, stop)
    except (KeyboardInterrupt, _Stopped):
        how = "stopped" if stop and stop.is_set() else "interrupted"
        sink.finish(notice=f"{how}: nothing was added to '{conversation.name}'")
        raise ReplyInterrupted(
            "the reply was interrupted; what arrived stays above, and the conversation is unchanged."
        ) from None
    except MistralError:
        sink.finish(notice=f"failed: nothing was added to '{conversation.name}'")
        raise
    turn = _turn(request, reply)
    number = conversation.commit(turn) + 1 if request.record else None
    sink.finish(footer=footer(reply, request.model), record=record(turn, conversation.name, number))
    return reply


def record(turn: Turn, conversation: str, number: int | None) -> dict[str, Any]:
    """How a reply was produced, kept in its output's metadata so a saved notebook documents it."""
    return {"conversation": conversation, "turn": number, "model": turn.model, "params": turn.params,
            "usage": turn.usage, "finish_reason": turn.finish_reason, "request_id": turn.request_id}


def footer(reply: Reply, model: str) -> str:
    """A quiet line under a reply: model, tokens, time to first token, total time."""
    parts = [reply.model or model]
    if reply.usage:
        parts.append(f"{reply.usage.get('prompt_tokens', '?')} in / "
                     f"{reply.usage.get('completion_tokens', '?')} out tokens")
    if reply.first_token is not None:
        parts.append(f"first token {reply.first_token - reply.started:.2f} s")
    if reply.ended is not None:
        parts.append(f"total {reply.ended - reply.started:.2f} s")
    if reply.finish_reason in ("length", "model_length"):
        parts.append("cut short by the token limit: raise --max-tokens to get more")
    return " · ".join(parts)


class _Stopped(Exception):
    """The stop event was set: end the reply as an interrupt does."""


def _receive(client: MistralClient, payload: dict[str, Any], reply: Reply, sink: Sink,
             stop: threading.Event | None) -> None:
    if payload["stream"]:
        with contextlib.closing(client.stream_chat(payload, on_retry=sink.status)) as chunks:
            for chunk in chunks:
                _check(stop)
                sink.append(reply.add_chunk(chunk))
    else:
        sink.append(reply.add_response(client.chat(payload, on_retry=sink.status)))
    _check(stop)
    sink.append(reply.finish())
    if reply.finish_reason == "error":
        raise StreamError("the model stopped with an error partway through the reply. Re-run the cell.")


def _check(stop: threading.Event | None) -> None:
    if stop and stop.is_set():
        raise _Stopped


def _turn(request: Request, reply: Reply) -> Turn:
    answer: Message = {"role": "assistant", "content": reply.text}
    return Turn(
        messages=[{"role": "user", "content": request.prompt}, answer],
        cell_id=request.cell_id,
        model=reply.model or request.model,
        usage=reply.usage,
        finish_reason=reply.finish_reason,
        params={name: value for name, value in request.options.items() if value is not None}
        | ({"prefix": request.prefix} if request.prefix else {}),
        request_id=reply.id,
    )
