"""Where a cell's reply is drawn: one rich output updated in place, or text printed as it comes.

Both are :class:`~.live.Sink` surfaces over :mod:`.live`; the rich one keeps
one display id and redraws when its :class:`~.live.Throttle` allows, so a
fast stream sends a handful of display messages rather than one per chunk.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from .live import LiveReply, Throttle
from .render import Thinking, warm_up

__all__ = ["LiveMarkdown", "LiveText"]


class LiveMarkdown:
    """One rich output for one reply, updated in place and throttled.

    ``display`` is IPython's ``display`` unless given (benchmarks and tests
    pass a recorder); it must accept ``raw=True, display_id=True`` and return
    a handle with ``update(data, raw=True)``.
    """

    def __init__(self, *, interval: float = 1 / 12, clock: Callable[[], float] = time.monotonic,
                 display: Callable[..., Any] | None = None) -> None:
        self.reply = LiveReply()
        self._throttle = Throttle(interval, clock)
        self._display = display
        self._handle: Any = None
        self.updates = 0

    def start(self, lead: str = "") -> None:
        warm_up()
        self.reply.lead = lead
        display = self._display or _ipython_display()
        self._handle = display(self.reply.waiting(), raw=True, display_id=True)

    def status(self, text: str) -> None:
        """Show why the reply is not here yet (waiting, retrying)."""
        self.reply.set_status(text)
        self._show(self.reply.waiting())

    def think(self, text: str) -> None:
        if self.reply.think(text):
            self._draw()

    def append(self, text: str) -> None:
        if self.reply.append(text):
            self._draw()

    def _draw(self) -> None:
        if self._throttle.due():
            self._throttle.draw(self.reply.bundle, self._show, lambda: self.reply.open_share)

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        if not self.reply.chunks and not footer:
            # Nothing arrived: clear the indicator; the error line below says why.
            self._show({"text/plain": ""})
            return
        self.reply.finish(footer=footer, notice=notice)
        self._show(self.reply.bundle(), {"mistral_magic": record} if record else None)

    def _show(self, data: dict[str, str], metadata: dict[str, Any] | None = None) -> None:
        self._handle.update(data, raw=True, metadata=metadata or {})
        self.updates += 1


def _ipython_display() -> Callable[..., Any]:
    from IPython.display import display

    return display


class LiveText:
    """A reply printed as it arrives, for terminal IPython and plain Python."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream or sys.stdout
        self._ends_with_newline = True
        self._clock = clock
        self._asked = clock()
        self._thinking = False  # thinking printed, and the answer not begun

    def start(self, lead: str = "") -> None:
        self._asked = self._clock()
        if lead:
            self._write(f"{lead}\n\n")

    def think(self, text: str) -> None:
        """Print the thinking as it comes, under a heading, so the answer below stands apart."""
        if text and not self._thinking:
            self._thinking = True
            self._write(f"{Thinking('').summary}\n")
        self._write(text)

    def status(self, text: str) -> None:
        self._stream.write(f"{text}\n")
        self._stream.flush()

    def append(self, text: str) -> None:
        if self._thinking and text:
            self._thinking = False
            self._write(f"\n\n({Thinking('', self._clock() - self._asked).summary.lower()})\n\n")
        self._write(text)

    def _write(self, text: str) -> None:
        if text:
            self._stream.write(text)
            self._stream.flush()
            self._ends_with_newline = text.endswith("\n")

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        lines = [f"⚠ {notice}"] if notice else []
        lines += [f"— {footer}"] if footer else []
        head = "" if self._ends_with_newline else "\n"
        self._stream.write(head + "".join(f"\n{line}\n" for line in lines))
        self._stream.flush()
