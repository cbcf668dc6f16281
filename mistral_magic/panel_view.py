"""How a chat panel draws: message bubbles, committed turns, and the reply on its way.

:class:`ReplyView` is the panel's :class:`~.live.Sink`, a thin surface over
:mod:`.live` like a cell's output; a committed turn reads as the cell showed
it, tool calls as their compact lines (:mod:`.tool_lines`).
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any, Callable

import ipywidgets as widgets

from .conversation import Turn, count
from .live import LiveReply, Throttle, usage_line
from .render import Thinking, render_html
from .tool_lines import shown_reply

__all__ = ["ReplyView", "bubble", "close_widget", "question_widget", "turn_widget"]

_ROLES = {"user": ("You", "37,99,235", "margin-left:10%"),
          "assistant": ("Mistral", "234,88,12", "margin-right:10%")}


class ReplyView:
    """A Sink that streams one reply into its own HTML widget; the footer goes to the status line."""

    def __init__(self, status: Callable[[str], None], *, interval: float = 1 / 12,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.widget = widgets.HTML()
        self.reply = LiveReply()
        self.updates = 0
        self.completed = False
        self._status = status
        self._throttle = Throttle(interval, clock)
        self._halted = False
        self._lock = threading.Lock()  # Stop (kernel thread) and chunks (worker) both draw

    @property
    def tokens(self) -> int:
        """Chunks with text so far: what the status line counts."""
        return self.reply.chunks

    def start(self, lead: str = "") -> None:
        self.reply.lead = lead
        self.status(self.reply.status)

    def status(self, text: str) -> None:
        """Show why the reply is not here yet (waiting, retrying)."""
        self.reply.set_status(text)
        self._put(bubble("assistant", self.reply.waiting()["text/html"]))
        self._status(text)

    def think(self, text: str) -> None:
        self._add(self.reply.think, text)

    def append(self, text: str) -> None:
        self._add(self.reply.append, text)

    def _add(self, add: Callable[[str], bool], text: str) -> None:
        with self._lock:
            if self._halted or not add(text) or not self._throttle.due():
                return
            self._throttle.draw(self._bubble, self._put, lambda: self.reply.open_share)
        self._status(f"streaming · {count(self.tokens, 'token')} so far")

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        with self._lock:
            if notice and self._halted:
                return  # stopped: keep that mark, whatever ended the stream afterwards
            self.completed = not notice
            self.reply.finish(notice=notice)
            self._put(self._bubble())
        if footer:
            self._status(footer)

    def halt(self, notice: str) -> None:
        """Show the reply as stopped now, without waiting for the worker to notice."""
        with self._lock:
            self._halted = True
            self.reply.finish(notice=notice)
            self._put(self._bubble())

    def _bubble(self) -> str:
        return bubble("assistant", self.reply.bundle()["text/html"])

    def _put(self, markup: str) -> None:
        self.widget.value = markup
        self.updates += 1


def question_widget(text: str) -> widgets.HTML:
    """The user's message while its reply is on the way."""
    return widgets.HTML(bubble("user", render_html(text)))


def turn_widget(turn: Turn) -> widgets.HTML:
    """A committed turn, rendered once; it keeps its widget while the conversation grows."""
    bubbles = [bubble("user", render_html(turn.prompt))]
    if len(turn.messages) > 1:
        thinking = "".join(Thinking(turn.thinking, turn.thought_for).html_parts()) if turn.thinking else ""
        bubbles.append(bubble("assistant", thinking + render_html(shown_reply(turn.messages[1:]))))
    footer = " · ".join(part for part in (turn.model or "", usage_line(turn.usage)) if part)
    note = f'<div style="color:#888;font-size:0.8em">{html.escape(footer)}</div>' if footer else ""
    return widgets.HTML("".join(bubbles) + note)


def bubble(role: str, body: str) -> str:
    """One message, its speaker named and coloured, so user and assistant turns stand apart."""
    label, rgb, side = _ROLES.get(role, (role, "120,120,120", ""))
    return (f'<div class="mistral-{html.escape(role)}" style="{side};margin-top:6px;padding:4px 10px;'
            f'line-height:1.45;border-radius:8px;background:rgba({rgb},.07);border:1px solid rgba({rgb},.3)">'
            f'<div style="font-size:0.8em;font-weight:600;color:rgb({rgb})">{html.escape(label)}</div>'
            f"{body}</div>")


def close_widget(widget: widgets.Widget) -> None:
    """Close a widget with its layout and style, which closing it leaves open."""
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if isinstance(part, widgets.Widget):
            part.close()
    widget.close()
