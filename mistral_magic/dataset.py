"""``--over``: one prompt over every row of a table, concurrent, resumable, with a progress line.

Each row is its own request (the conversation's system message, no history,
no turn recorded), sent by a pool of worker threads through the one backend, so
retries and errors are those of a cell. At most ``concurrency`` requests are in
flight, and a body is made only when a worker is free, so a 100,000-row table
costs little more than its answers. Answers are kept by the hash of their
request body: run the cell again after an interrupt or a failure and only the
rows not yet answered are sent. Results come back aligned with the input: a
pandas Series on the frame's index, or a list in row order, with each failed
row's error kept beside it. pandas is never imported here: a frame's own
module makes the Series.
"""

from __future__ import annotations

import hashlib
import html
import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

from .conversation import count
from .errors import MistralError, ReplyValidationError, one_line
from .params import DEFAULT_MODEL, request_options
from .protocol import Message, Reply, build_payload
from .retry import Pace
from .templating import MissingFields, fill

if TYPE_CHECKING:
    from .backend import Backend, Payload
    from .batch import JobRows

__all__ = ["Answer", "Progress", "ProgressBar", "ProgressLine", "RowResults", "Rows", "Tally", "aligned",
           "answers_over", "row_body", "rows_of", "summary", "unanswered", "value_of"]

Template = Union[str, Callable[[Any], str]]
"""A prompt with ``{field}`` per column (``{item}`` for plain values), or a function of the row."""

_WAIT = 0.1  # seconds the kernel's thread waits at a time, so Ctrl-C is felt at once
LONG_RUN = 600  # seconds left past which the progress line suggests a batch job


def _unpriced(tokens_in: int, tokens_out: int) -> float | None:
    """No price known: the summary leaves cost out."""
    return None


@dataclass
class Rows:
    """A table's rows as templates read them, and the index its results align to."""

    items: Sequence[Any]  # a mapping of fields per row, or a plain value read as {item}
    index: Any = None  # a pandas index, when the table was pandas

    def prompt(self, template: Template, position: int) -> str:
        """The template filled from one row (or called with it); ``ValueError`` names the fields the row lacks."""
        item = self.items[position]
        if callable(template):
            return str(template(item))
        fields = item if isinstance(item, Mapping) else {"item": item}
        try:
            return fill(template, fields)
        except MissingFields as exc:
            have = ", ".join(map(str, fields)) or "none"
            raise ValueError(f"--over: row {position} has no field {', '.join(exc.names)} (its fields: {have}); "
                             "write {{ and }} for literal braces.") from None


def rows_of(data: Any, name: str) -> Rows:
    """The rows of a DataFrame or Series (pandas or polars), a list of dicts, or a list of values."""
    module = type(data).__module__.partition(".")[0]
    kind = type(data).__name__
    if module == "pandas" and kind == "DataFrame":
        return Rows(data.to_dict("records"), data.index)
    if module == "pandas" and kind == "Series":
        return Rows(data.tolist(), data.index)
    if module == "polars" and kind == "DataFrame":
        return Rows(data.to_dicts())
    if module == "polars" and kind == "Series":
        return Rows(data.to_list())
    if isinstance(data, (list, tuple)):
        return Rows(list(data))
    raise ValueError(f"--over {name}: a {kind} has no rows; give a DataFrame, a Series or a list.")


@dataclass
class Answer:
    """One row's outcome: the reply text and its usage, or the one line saying why it failed."""

    text: str | None = None
    usage: dict[str, Any] | None = None
    error: str | None = None


class Progress(Protocol):
    """Where a run shows how far it is: a widget in a notebook, a line in a terminal."""

    def show(self, line: str, done: int, total: int) -> None: ...
    def close(self, line: str) -> None: ...


@dataclass
class Tally:
    """How far a run has got, for its progress and summary lines."""

    total: int
    done: int = 0
    kept: int = 0  # answered by an earlier run: no tokens spent now
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    started: float = field(default_factory=time.monotonic)

    def add(self, answer: Answer) -> None:
        self.done += 1
        self.failed += answer.error is not None
        usage = answer.usage or {}
        self.tokens_in += usage.get("prompt_tokens") or 0
        self.tokens_out += usage.get("completion_tokens") or 0


def run_over(backend: Backend, rows: Rows, template: Template, body: Callable[[str], Payload], *, name: str,
             concurrency: int, cache: dict[bytes, Answer], progress: Progress | None,
             parse: Callable[[str], Any] = str,
             price: Callable[[int, int], float | None] = _unpriced, hint: str = "") -> tuple[Any, bool]:
    """The answers for the rows, aligned with them, and whether Ctrl-C cut the run short.

    ``parse`` makes a reply text a row's value (JSON, a validated object); a
    reply it refuses fails its row.
    """
    answers, interrupted = answers_over(backend, rows, body, template, concurrency=concurrency, cache=cache,
                                        progress=progress, price=price, hint=hint)
    values = [value_of(parse, answer) for answer in answers]
    return aligned(rows, answers, values, name), interrupted


def over(data: Any, prompt: Template, *, model: str = DEFAULT_MODEL, system: str | None = None,
         concurrency: int = 8, client: Backend | None = None, progress: bool = True,
         batch: bool | str = False, poll_interval: float = 30.0, **options: Any) -> Any:
    """``%%mistral --over`` for code outside magics: ``prompt`` over every row of ``data``, aligned.

    ``data`` is a DataFrame, a Series or a list; ``prompt`` a template such as
    ``"Label: {review}"`` or a function of the row. Options are the API's
    (``temperature=0``, ``response_format=...``). Answers are kept for the
    process, by request body, so calling again after an interrupt sends only
    the rows not yet answered. With the extension loaded, its backend (and so
    its base URL, key variable and retries) is used. Failed rows hold None; their errors are in
    ``result.attrs["errors"]`` (pandas) or ``result.errors``.

    ``batch=True`` sends the rows as one job on Mistral's Batch API (half price,
    no rate limits) and waits for it, polling at most every ``poll_interval``
    seconds; ``batch="JOB_ID"`` collects a job sent earlier, aligned with ``data``.
    """
    from .client import MistralClient
    from .router import Router
    from .session import loaded

    session = loaded() if client is None else None
    backend = client or (session.client if session is not None else None)
    own = None
    if backend is None:  # the hosted API, or the embedded model offline, for this call only
        backend = own = Router(MistralClient)
    body = row_body(model, system, request_options({}, options))
    rows, shown = rows_of(data, "result"), ProgressLine(sys.stderr) if progress else None
    try:
        if batch:
            return _over_batch(backend, rows, prompt, body, model, batch, shown, poll_interval)
        result, _ = run_over(backend, rows, prompt, body, name="result", concurrency=concurrency, cache=_ANSWERS,
                             progress=shown, hint="batch=True would run it at half price, outside rate limits")
    finally:
        if own is not None:
            own.close()
    return result


_ANSWERS: dict[bytes, Answer] = {}  # the process's answers by request body, for over()


def _over_batch(backend: Backend, rows: Rows, prompt: Template, body: Callable[[str], Payload], model: str,
                job: bool | str, progress: Progress | None, most: float) -> Any:
    """over(batch=...): a job for the rows (or the one named), collected against them."""
    from . import batch

    api = batch.jobs_api(backend, model)
    if isinstance(job, str):
        named = batch.JobRows(rows, "result", str, [None] * len(rows.items), {})
        return batch.finish(api, job, named, _ANSWERS, progress, most, _unpriced, _PENDING)[0]
    planned, lines = batch.plan(rows, prompt, body, name="result", parse=str, cache=_ANSWERS)
    return batch.run(api, planned, lines, model, cache=_ANSWERS, pending=_PENDING, metadata={},
                     progress=progress, most=most, price=_unpriced)[0]


_PENDING: dict[str, JobRows] = {}  # over()'s batch jobs not yet collected, by id


def value_of(parse: Callable[[str], Any], answer: Answer) -> Any:
    """One row's value; a reply ``parse`` refuses fails the row."""
    if answer.error is not None or answer.text is None:
        return None
    try:
        return parse(answer.text)
    except ReplyValidationError as exc:
        answer.error = str(exc)
        return None


def answers_over(backend: Backend, rows: Rows, body: Callable[[str], Payload], template: Template, *,
                 concurrency: int, cache: dict[bytes, Answer], progress: Progress | None = None,
                 price: Callable[[int, int], float | None] = _unpriced, hint: str = "",
                 interval: float = 0.1) -> tuple[list[Answer], bool]:
    """Every row's answer, in row order, reusing those ``cache`` holds and adding the new ones;
    and whether Ctrl-C cut the run short.

    Ctrl-C stops sending: requests in flight finish and every answer so far is
    kept (in ``cache`` too); a row never sent says so.
    """
    answers: list[Answer | None] = [None] * len(rows.items)
    tally = Tally(len(rows.items))
    todo = unanswered(rows, body, template, cache, answers, tally)
    shown = [0.0]

    def report(final: bool = False) -> None:
        if progress is not None and (final or time.monotonic() - shown[0] >= interval):
            shown[0] = time.monotonic()
            line = summary(tally, price, "" if final else hint)
            progress.close(line) if final else progress.show(line, tally.done, tally.total)

    pace = Pace()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mistral-over")
    running: dict[Future[Answer], tuple[int, bytes]] = {}
    interrupted = False
    try:
        report()
        for position, key, payload in todo:
            while len(running) >= concurrency:
                _collect(running, answers, cache, tally)
                report()
            running[pool.submit(_ask, backend, payload, pace)] = (position, key)
        while running:
            _collect(running, answers, cache, tally)
            report()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        _finish_in_flight(running, answers, cache, tally)
        pool.shutdown(wait=True)
        report(final=True)
    return [answer or Answer(error="not sent: interrupted") for answer in answers], interrupted


def unanswered(rows: Rows, body: Callable[[str], Payload], template: Template, cache: Mapping[bytes, Answer],
               answers: list[Answer | None], tally: Tally) -> Iterator[tuple[int, bytes, Payload]]:
    """The rows still to send, with their body and its key; the others are answered from ``cache``."""
    for position in range(len(rows.items)):
        try:
            payload = body(rows.prompt(template, position))
        except ValueError as exc:  # a row without a field the template names
            refused = answers[position] = Answer(error=str(exc))
            tally.add(refused)
            continue
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).digest()
        known = cache.get(key)
        if known is not None:
            answers[position] = known
            tally.done += 1
            tally.kept += 1
        else:
            yield position, key, payload


def _ask(backend: Backend, payload: Payload, pace: Pace) -> Answer:
    reply = Reply()
    try:
        reply.add_response(backend.chat(payload, pace=pace))
    except MistralError as exc:
        return Answer(error=one_line(exc))
    return Answer(reply.text, reply.usage)


def _collect(running: dict[Future[Answer], tuple[int, bytes]], answers: list[Answer | None],
             cache: dict[bytes, Answer], tally: Tally) -> None:
    """Wait a moment for requests in flight; keep each answer that came."""
    finished, _ = wait(running, timeout=_WAIT, return_when=FIRST_COMPLETED)
    for future in finished:
        position, key = running.pop(future)
        if future.cancelled():  # submitted as Ctrl-C came, never started
            continue
        answer = future.result()
        answers[position] = answer
        tally.add(answer)
        if answer.error is None:
            cache[key] = answer  # a failed row is sent again next time


def _finish_in_flight(running: dict[Future[Answer], tuple[int, bytes]], answers: list[Answer | None],
                      cache: dict[bytes, Answer], tally: Tally) -> None:
    """After an interrupt, keep what the requests already sent bring back."""
    while running:
        try:
            _collect(running, answers, cache, tally)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting for them
            return


def summary(tally: Tally, price: Callable[[int, int], float | None], hint: str = "") -> str:
    """``480 of 500 rows · 2 failed · 12,345 in / 678 out tokens · ≈ $0.0123 · 12 rows/s · 2 s left``.

    ``hint`` ends the line while a run has more than :data:`LONG_RUN` seconds to go.
    """
    elapsed = time.monotonic() - tally.started
    parts = [f"{tally.done:,} of {count(tally.total, 'row')}"]
    if tally.kept:
        parts.append(f"{tally.kept:,} answered before")
    if tally.failed:
        parts.append(f"{tally.failed:,} failed")
    if tally.tokens_in or tally.tokens_out:
        parts.append(f"{tally.tokens_in:,} in / {tally.tokens_out:,} out tokens")
        spent = price(tally.tokens_in, tally.tokens_out)
        if spent is not None:
            parts.append(f"≈ ${spent:.4f}")
    rate = (tally.done - tally.kept) / elapsed if elapsed > 0 else 0.0
    parts.append(f"{elapsed:.1f} s")
    if tally.done < tally.total and rate:
        left = (tally.total - tally.done) / rate
        parts.append(f"{rate:.1f} rows/s, {left:.0f} s left")
        if hint and left > LONG_RUN:
            parts.append(hint)
    return " · ".join(parts)


class RowResults(list[Any]):
    """Results in row order, with ``errors``: the position and error line of each failed row."""

    errors: dict[int, str]


def aligned(rows: Rows, answers: Sequence[Answer], values: Sequence[Any], name: str) -> Any:
    """Results shaped like the input: a pandas Series on its index (a DataFrame when every value
    has fields: JSON objects, validated models), else a list; errors kept beside."""
    if rows.index is not None:
        pandas = sys.modules["pandas"]  # the table was pandas, so pandas is loaded
        fields = [_fields(value) for value in values]
        if any(fields) and all((found is None) == (value is None) for found, value in zip(fields, values)):
            result = pandas.DataFrame([found or {} for found in fields], index=rows.index)
        else:
            result = pandas.Series(list(values), index=rows.index, dtype=object, name=name)
        result.attrs["errors"] = {rows.index[position]: answer.error for position, answer in enumerate(answers)
                                  if answer.error is not None}
        return result
    result = RowResults(values)
    result.errors = {position: answer.error for position, answer in enumerate(answers) if answer.error is not None}
    return result


def _fields(value: Any) -> dict[str, Any] | None:
    """A value's fields: a JSON object's, or a pydantic model's (as ``--schema`` gives them)."""
    if isinstance(value, Mapping):
        return dict(value)
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else None


def system_and(system: str | None, prompt: str) -> list[Message]:
    """A row's messages: the conversation's system message, if any, and the row's prompt."""
    messages: list[Message] = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": prompt}]


def row_body(model: str, system: str | None, options: Mapping[str, Any]) -> Callable[[str], Payload]:
    """How a row's prompt becomes its request body: whole, not streamed."""
    return lambda prompt: build_payload(model, system_and(system, prompt), options, stream=False)


class ProgressBar:
    """Progress as an ipywidgets bar with its line beside it, in a notebook."""

    def __init__(self, total: int) -> None:
        import ipywidgets as widgets

        self.bar = widgets.IntProgress(value=0, min=0, max=max(total, 1))
        self.label = widgets.HTML()
        self.widget = widgets.HBox([self.bar, self.label])

    def show(self, line: str, done: int, total: int) -> None:
        self.bar.value = done
        self.label.value = html.escape(line)

    def close(self, line: str) -> None:
        """The last line, also printed: a saved notebook keeps text, not a widget's state."""
        self.bar.value = self.bar.max
        self.label.value = html.escape(line)
        print(line)


class ProgressLine:
    """Progress as one line in a terminal, rewritten in place."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()

    def show(self, line: str, done: int, total: int) -> None:
        with self._lock:
            self._stream.write(f"\r{line}\033[K")
            self._stream.flush()

    def close(self, line: str) -> None:
        with self._lock:
            self._stream.write(f"\r{line}\033[K\n")
            self._stream.flush()
