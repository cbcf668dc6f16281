"""One turn of a conversation: build the request, stream into a sink, commit.

The magic and the panel both run turns through here, so a reply is shown,
interrupted and recorded the same way wherever it was asked for.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .conversation import Conversation, Turn
from .errors import MistralError, ReplyInterrupted, StreamError, ToolLoopError
from .live import Sink, footer
from .protocol import Message, Reply, build_payload
from .tool_lines import round_text

if TYPE_CHECKING:
    from .backend import Backend
    from .structured import Schema
    from .tools import Toolbox

__all__ = ["Request", "record", "request_body", "run_turn"]


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
    tools: Toolbox | None = None
    schema: Schema | None = None
    images: list[dict[str, Any]] = field(default_factory=list)  # image_url chunks after the text

    def user_message(self) -> Message:
        """The message as sent, and as the turn keeps it: text alone, or text and images as chunks."""
        if not self.images:
            return {"role": "user", "content": self.prompt}
        return {"role": "user", "content": [{"type": "text", "text": self.prompt}, *self.images]}

    def messages(self, conversation: Conversation) -> list[Message]:
        history = conversation.messages(self.cell_id, turns=self.record)
        history.append(self.user_message())
        if self.prefix:
            history.append({"role": "assistant", "content": self.prefix, "prefix": True})
        return history


def run_turn(
    client: Backend,
    conversation: Conversation,
    request: Request,
    sink: Sink,
    stop: threading.Event | None = None,
) -> Reply:
    """Stream a reply into ``sink``; commit the turn only if the reply completes.

    Setting ``stop`` (a panel's Stop button) ends the reply between chunks as
    Ctrl-C does: what arrived stays, marked, and nothing is committed.
    """
    messages = request.messages(conversation)
    # How the request is served, told before the reply and again under it, whether or not it completes.
    notes = client.notes(request_body(request, messages))

    def unchanged(how: str) -> None:
        sink.finish(notice=" · ".join([f"{how}: nothing was added to '{conversation.name}'", *notes]))

    sink.start(lead=" · ".join(notes))
    try:
        reply, steps = _converse(client, request, messages, sink, stop)
    except (KeyboardInterrupt, _Stopped, MistralError) as exc:
        stopped = stop is not None and stop.is_set()  # a stopped reply's cut stream fails: still a stop
        if isinstance(exc, MistralError) and not stopped:
            unchanged("failed")
            raise
        unchanged("stopped" if stopped else "interrupted")
        raise ReplyInterrupted(
            "the reply was interrupted; what arrived stays above, and the conversation is unchanged."
        ) from None
    turn = _turn(request, reply, steps)
    number = conversation.commit(turn) + 1 if request.record else None
    sink.finish(footer=footer(reply, request.model, notes), record=record(turn, conversation.name, number))
    return reply


def request_body(request: Request, messages: list[Message], *, last_round: bool = False) -> dict[str, Any]:
    """The JSON body of one request; on the last round of tool calls it asks for a text answer."""
    options = request.options
    if request.tools is not None:
        options = {**options, **request.tools.options(last_round=last_round)}
    return build_payload(request.model, messages, options, stream=request.stream)


def record(turn: Turn, conversation: str, number: int | None) -> dict[str, Any]:
    """How a reply was produced, kept in its output's metadata so a saved notebook documents it."""
    return {"conversation": conversation, "turn": number, "model": turn.model, "params": turn.params,
            "usage": turn.usage, "finish_reason": turn.finish_reason, "request_id": turn.request_id}


class _Stopped(Exception):
    """The stop event was set: end the reply as an interrupt does."""


def _converse(client: Backend, request: Request, messages: list[Message], sink: Sink,
              stop: threading.Event | None) -> tuple[Reply, list[Message]]:
    """Ask; while the model calls tools, run them and ask again. Return the answer and the steps between.

    The steps (each assistant message that called tools, and the tool results)
    belong to the turn, so the next cell sees what the model learned. Usage is
    summed over the rounds; times count from the first request.
    """
    tools = request.tools
    rounds = tools.max_rounds if tools is not None else 0
    steps: list[Message] = []
    started = time.perf_counter()
    usage: dict[str, Any] | None = None
    for round_number in range(rounds + 1):
        reply = Reply(prefix=request.prefix, started=started, on_thinking=sink.think)
        body = request_body(request, messages + steps, last_round=round_number == rounds)
        _receive(client, body, reply, sink, stop)
        usage = _total_usage(usage, reply.usage)
        if tools is None or not reply.tool_calls:
            break
        if round_number == rounds:
            raise ToolLoopError(f"the model still called tools after {rounds} rounds, though asked to "
                                "answer. Raise MistralMagics.max_tool_rounds, or ask for fewer steps.")
        steps += _use_tools(tools, reply, sink, stop)
    reply.usage = usage
    return reply, steps


def _use_tools(tools: Toolbox, reply: Reply, sink: Sink, stop: threading.Event | None) -> list[Message]:
    """Run the calls the model asked for, in order; show them as one block (one update, not one each)."""
    asked = tools.asked(reply.text, reply.tool_calls)
    steps: list[Message] = [asked]
    lines = []
    for call in asked["tool_calls"]:
        _check(stop)
        run = tools.run(call)
        steps.append(run.message)
        lines.append(run.line)
    sink.append(round_text(reply.text, lines))
    return steps


def _total_usage(total: dict[str, Any] | None, usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Token counts added up over the requests of one turn; other fields as last reported."""
    if not usage or not total:
        return dict(usage) if usage else total
    summed = {**total, **usage}
    for key, value in usage.items():
        if isinstance(value, (int, float)) and isinstance(total.get(key), (int, float)):
            summed[key] = total[key] + value
    return summed


def _receive(client: Backend, payload: dict[str, Any], reply: Reply, sink: Sink,
             stop: threading.Event | None) -> None:
    if payload["stream"]:
        with contextlib.closing(client.stream_chat(payload, on_status=sink.status)) as chunks:
            for chunk in chunks:
                _check(stop)
                sink.append(reply.add_chunk(chunk))
    else:
        sink.append(reply.add_response(client.chat(payload, on_status=sink.status)))
    _check(stop)
    sink.append(reply.finish())
    if reply.finish_reason == "error":
        raise StreamError("the model stopped with an error partway through the reply. Re-run the cell.")


def _check(stop: threading.Event | None) -> None:
    if stop and stop.is_set():
        raise _Stopped


def _turn(request: Request, reply: Reply, steps: list[Message]) -> Turn:
    answer: Message = {"role": "assistant", "content": reply.text}
    return Turn(
        messages=[request.user_message(), *steps, answer],
        cell_id=request.cell_id,
        model=reply.model or request.model,
        usage=reply.usage,
        finish_reason=reply.finish_reason,
        params={name: value for name, value in request.options.items() if value is not None}
        | ({"prefix": request.prefix} if request.prefix else {}),
        request_id=reply.id,
        thinking=str(reply.thinking),
        thought_for=reply.thought_for,
    )
