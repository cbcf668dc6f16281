"""``--compare``: one prompt, every combination of settings, side by side.

Each combination streams on its own thread into a column of one grid output.
The kernel's thread redraws the grid at most every ``interval`` seconds, so
the frontend gets a few messages however many columns stream. Columns run on a
copy of the conversation: they see its history but add no turn, since there is
no single reply to keep (re-run the cell you prefer without ``--compare``).
A failing combination shows its error in its column while the others go on;
Ctrl-C stops them all: their streams are cut and their threads have ended when
the cell returns.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from .conversation import Conversation
from .errors import ReplyInterrupted, one_line
from .live import LiveReply, Throttle
from .params import COMPARABLE

if TYPE_CHECKING:
    from .backend import Backend
    from .exchange import Request
    from .protocol import Reply

__all__ = ["Column", "combinations", "compare", "varied"]

SETTINGS = ("model", *COMPARABLE)
_AT_ONCE = 8  # columns streaming at the same time; the rest wait their turn
_ENDING = 2.0  # seconds an interrupted comparison waits for its workers, cutting their streams
_GRID = "display:grid;grid-template-columns:repeat(auto-fill,minmax(18em,1fr));gap:0.75em"
_HEAD = "font-weight:600;font-size:0.85em;margin-bottom:0.3em"
_CELL = "border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:0.4em 0.7em;min-width:0"


def varied(request: Request) -> list[str]:
    """The settings given several values (as tuples), in flag order."""
    return [name for name in SETTINGS if isinstance(_setting(request, name), tuple)]


def combinations(request: Request) -> list[Request]:
    """One request per combination of the several values, the first setting varying slowest."""
    names = varied(request)
    requests = []
    for values in itertools.product(*(_setting(request, name) for name in names)):
        chosen = dict(zip(names, values))
        model = chosen.pop("model", request.model)
        requests.append(dataclasses.replace(request, model=model, options={**request.options, **chosen}))
    return requests


def compare(client: Backend, conversation: Conversation, request: Request, *,
            interval: float, display: Callable[..., Any] | None) -> list[dict[str, Any]]:
    """Run every combination at once into one grid; return a record per combination.

    ``display`` is IPython's ``display`` for a live grid, or None to print each
    column once all are done (a terminal).
    """
    from .exchange import run_turn

    names = varied(request)
    columns = [Column(one, names) for one in combinations(request)]
    stop = threading.Event()
    gate = threading.Semaphore(_AT_ONCE)

    def work(column: Column) -> None:
        try:
            with gate:
                if not stop.is_set():
                    copy = Conversation.from_dict(conversation.to_dict())
                    column.reply = run_turn(client, copy, column.request, column, stop)
        except Exception as exc:  # each column fails alone; its error is shown and recorded
            column.fail(one_line(exc))
        finally:
            column.done.set()

    grid = _Grid(columns, display, Throttle(interval))
    threads = [threading.Thread(target=work, args=(column,), name="mistral-compare", daemon=True)
               for column in columns]
    for thread in threads:
        thread.start()
    try:
        while not all(column.done.is_set() for column in columns):
            time.sleep(max(interval, 0.02))
            if grid.throttle.due():
                grid.refresh()
    except KeyboardInterrupt:
        stop.set()
        grid.refresh(interrupted=True)
        _end(client, threads)
        raise ReplyInterrupted("the comparison was interrupted; what arrived stays above.") from None
    grid.refresh(final=True)
    return [column.result() for column in columns]


class Column:
    """A Sink for one combination: a worker thread writes its :class:`~.live.LiveReply`, the grid reads it."""

    def __init__(self, request: Request, varied: list[str]) -> None:
        self.request = request
        self.settings = {"model": request.model, **{
            name: value for name, value in request.options.items()
            if name in SETTINGS and value is not None}}
        self.label = " · ".join([request.model] + [f"{name} {_number(request.options[name])}"
                                                    for name in varied if name != "model"])
        self.live = LiveReply()
        self.reply: Reply | None = None
        self.error: str | None = None
        self.done = threading.Event()

    def start(self, lead: str = "") -> None:
        self.live.lead = lead

    def status(self, text: str) -> None:
        self.live.set_status(text)

    def think(self, text: str) -> None:
        self.live.think(text)

    def append(self, text: str) -> None:
        self.live.append(text)

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        self.live.finish(footer=footer, notice=notice)

    def fail(self, error: str) -> None:
        self.error = error
        self.live.set_notice(error)

    def interrupt(self) -> None:
        """Mark a column still streaming when the comparison is interrupted."""
        if not self.done.is_set():
            self.live.set_notice("interrupted")

    def result(self) -> dict[str, Any]:
        """The record ``--out`` gets: the settings, the answer (or what arrived), usage, the error if any."""
        if self.reply is None:
            return {**self.settings, "text": self.live.text, "usage": None, "error": self.error}
        return {**self.settings, "text": self.reply.text, "usage": self.reply.usage, "error": None}

    def html(self) -> str:
        """The column: its settings, then the reply so far (or its status), footer and notice."""
        head = f'<div style="{_HEAD}">{html.escape(self.label)}</div>'
        if self.live.empty:
            return head + self.live.waiting()["text/html"]
        return head + self.live.bundle()["text/html"]

    def plain(self) -> str:
        live = self.live
        lines = [f"[{self.label}]", live.lead, live.text, live.notice and f"⚠ {live.notice}",
                 live.footer and f"— {live.footer}"]
        return "\n".join(line for line in lines if line)


class _Grid:
    """One output holding every column, redrawn only when a column changed, as often as ``throttle`` lets it."""

    def __init__(self, columns: list[Column], display: Callable[..., Any] | None, throttle: Throttle) -> None:
        self.columns = columns
        self.throttle = throttle
        self._seen = -1
        self._handle = display(self._bundle(), raw=True, display_id=True) if display else None

    def refresh(self, *, final: bool = False, interrupted: bool = False) -> None:
        if interrupted:
            for column in self.columns:
                column.interrupt()
        handle = self._handle
        if handle is None:
            if final or interrupted:
                print("\n\n".join(column.plain() for column in self.columns))
            return
        version = sum(column.live.version for column in self.columns)
        if version != self._seen:
            self._seen = version
            self.throttle.draw(self._bundle, lambda data: handle.update(data, raw=True),
                               lambda: max(column.live.open_share for column in self.columns))

    def _bundle(self) -> dict[str, str]:
        cells = "".join(f'<div style="{_CELL}">{column.html()}</div>' for column in self.columns)
        return {"text/html": f'<div class="mistral-compare" style="{_GRID}">{cells}</div>',
                "text/plain": "\n\n".join(column.plain() for column in self.columns)}


def _end(client: Backend, threads: list[threading.Thread]) -> None:
    """Cut the workers' streams and wait for the workers, so none reads on after the cell.

    Streams are cut again while waiting, for a worker whose reply began after the
    first cut. One still waiting for a connection or a retry ends within the
    client's timeouts, on its own (the grid is not redrawn).
    """
    deadline = time.monotonic() + _ENDING
    while (alive := [thread for thread in threads if thread.is_alive()]) and time.monotonic() < deadline:
        client.cut_streams(alive)
        alive[0].join(0.05)


def _setting(request: Request, name: str) -> Any:
    return request.model if name == "model" else request.options.get(name)


def _number(value: Any) -> str:
    """``0`` rather than ``0.0`` for a temperature given as 0."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
