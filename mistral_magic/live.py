"""A reply while it streams: its text, its HTML as it grows, the notice and footer, and when to redraw.

A cell's output (:mod:`.cell_output`), a panel's reply (:mod:`.panel_view`) and
``--compare``'s columns are thin surfaces over :class:`LiveReply` and
:class:`Throttle`: each only says where the reply is drawn. So a reply reads
the same everywhere, and every surface sends a handful of updates however
fast the chunks come.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from .protocol import TextBuffer
from .render import IncrementalHTML, Thinking, bundle

if TYPE_CHECKING:
    from .protocol import Reply

__all__ = ["WAITING", "LiveReply", "Sink", "Throttle", "footer", "quiet", "usage_line"]

WAITING = "waiting for model…"

# Drawing gets at most 1/_SLOWDOWN of a stream's time, however costly an update becomes.
_SLOWDOWN = 50

_Drawn = TypeVar("_Drawn")


class Sink(Protocol):
    """Where a reply streams to: a cell output, a terminal, a panel, a column."""

    def start(self, lead: str = "") -> None:
        """Begin the reply; ``lead`` is a line to show above it, such as who answers in place of the model asked for."""
    def status(self, text: str) -> None: ...
    def think(self, text: str) -> None:
        """A piece of a reasoning model's thinking, shown folded above the answer."""
    def append(self, text: str) -> None: ...
    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        """End the reply; ``record`` says how it was produced (kept as output metadata)."""


class LiveReply:
    """One reply as it grows, safe to write from a worker while another thread draws it.

    Its HTML is rendered incrementally (each finished Markdown block once), so a
    draw costs the same at the end of a long reply as at its start.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.status = WAITING
        self.lead = ""  # shown above the reply from the start (see Sink.start)
        self.notice = ""
        self.footer = ""
        self.chunks = 0
        self.version = 0  # changes with every change, so a surface can skip a redraw
        self._parts = TextBuffer()
        self._html = IncrementalHTML()
        self._thinking = TextBuffer()
        self._thinking_html = IncrementalHTML()
        self._clock = clock
        self._asked = clock()  # "thought for" counts from the question, as the wait felt
        self._thought_for: float | None = None
        self._lock = threading.Lock()

    @property
    def text(self) -> str:
        with self._lock:
            return str(self._parts)

    @property
    def empty(self) -> bool:
        """Nothing to show but the status."""
        return not self._parts and not self.notice and not self.footer

    @property
    def open_share(self) -> float:
        """Of the text the last draw rendered, the part the next draw renders again."""
        return self._html.open_share

    def set_status(self, text: str) -> None:
        with self._lock:
            self.status = text
            self.version += 1

    def set_notice(self, text: str) -> None:
        """Mark the reply (failed, interrupted), keeping its footer."""
        with self._lock:
            self.notice = text
            self.version += 1

    def think(self, text: str) -> bool:
        """Add thinking; say whether there was any."""
        if not text:
            return False
        with self._lock:
            self._thinking.append(text)
            self.chunks += 1
            self.version += 1
        return True

    def append(self, text: str) -> bool:
        """Add text; say whether there was any."""
        if not text:
            return False
        with self._lock:
            if self._thinking and self._thought_for is None:
                self._thought_for = self._clock() - self._asked
            self._parts.append(text)
            self.chunks += 1
            self.version += 1
        return True

    def finish(self, *, footer: str = "", notice: str = "") -> None:
        with self._lock:
            if self._thinking and self._thought_for is None:
                self._thought_for = self._clock() - self._asked
            self.footer, self.notice = footer, notice
            self.version += 1

    def bundle(self) -> dict[str, str]:
        """The reply's MIME bundle: HTML, Markdown and plain text, with its notice, footer and folded thinking."""
        with self._lock:
            thinking = None
            if self._thinking:
                thinking = Thinking(str(self._thinking), self._thought_for, self._thinking_html)
            return bundle(str(self._parts), lead=self.lead, notice=self.notice, footer=self.footer,
                          renderer=self._html, thinking=thinking)

    def waiting(self) -> dict[str, str]:
        """What shows before the reply: the lead, then the status."""
        return quiet(self.lead, self.status)


class Throttle:
    """When a surface may redraw: at most every ``interval`` seconds, and less often when drawing is costly.

    What a draw will repeat next time (rendering the open block, sending the
    whole output) may cost at most 1/_SLOWDOWN of the wait for it, so a block
    that grows without end (one huge list) is shown less often rather than
    slowing the kernel.
    """

    def __init__(self, interval: float = 1 / 12, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._wait = interval
        self._drawn_at: float | None = None

    def due(self) -> bool:
        return self._drawn_at is None or self._clock() - self._drawn_at >= self._wait

    def draw(self, render: Callable[[], _Drawn], show: Callable[[_Drawn], None],
             repeated: Callable[[], float] = lambda: 1.0) -> None:
        """``show(render())`` now; ``repeated()`` is the share of the rendering the next draw does again."""
        self._drawn_at = self._clock()
        started = time.perf_counter()
        drawn = render()
        rendered = time.perf_counter()
        show(drawn)
        repeats = (rendered - started) * repeated() + time.perf_counter() - rendered
        self._wait = max(self.interval, repeats * _SLOWDOWN)


def usage_line(usage: Mapping[str, Any] | None) -> str:
    """``12 in / 40 out tokens``, or nothing when the server did not count."""
    if not usage:
        return ""
    return f"{usage.get('prompt_tokens', '?')} in / {usage.get('completion_tokens', '?')} out tokens"


def footer(reply: Reply, model: str, notes: Sequence[str] = ()) -> str:
    """A quiet line under a reply: model, tokens, time to first token, total time, notes."""
    parts = [reply.model or model, usage_line(reply.usage)]
    if reply.first_token is not None:
        parts.append(f"first token {reply.first_token - reply.started:.2f} s")
    if reply.ended is not None:
        parts.append(f"total {reply.ended - reply.started:.2f} s")
    if reply.finish_reason in ("length", "model_length"):
        parts.append("cut short by the token limit: raise --max-tokens to get more")
    return " · ".join([part for part in parts if part] + list(notes))


def quiet(*lines: str) -> dict[str, str]:
    """A status (waiting, retrying), and the lines above it, in grey."""
    shown = [line for line in lines if line]
    return {"text/html": "<br>".join(f'<span style="color:#888">{html.escape(line)}</span>' for line in shown),
            "text/plain": "\n".join(shown)}
