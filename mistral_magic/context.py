"""Notebook objects as Markdown a model can read: ``--context`` variables and ``%mistral_explain`` errors.

A model cannot see the kernel. Each object named with ``--context`` goes into the
user message as a labelled, fenced block that tells what the object is and what its
values look like: a data frame's shape, column types, missing counts and summaries,
then its first and last rows; an array's shape and range; JSON for containers; text
for strings; a traceback for an exception. Each block fits a character budget and
says where it was cut. Data frames and arrays are read through their own methods, so
nothing here imports pandas, numpy or polars: describing a dict costs no import.
"""

from __future__ import annotations

import json
import linecache
import re
import traceback
from collections.abc import Iterable, Mapping, Sequence
from types import FrameType, TracebackType
from typing import Any, Callable, NamedTuple

from .conversation import count
from .params import CONTEXT_BUDGET, SMALLEST_CONTEXT_BUDGET
from .protocol import shorten
from .quoting import code_block, code_span

__all__ = ["context_blocks", "describe", "error_report"]
_HEADING_WIDTH = 120
_CELL_WIDTH = 40  # characters of one value in a table
_LONG_CELL_WIDTH = 80  # dtypes and error messages, which lose their sense when cut short
_COLUMNS = 50  # columns summarised and shown: more would not fit the budget, and take time to summarise
_SAMPLE = 5  # rows shown from each end
_TOP = 3  # most frequent values shown for text, categories and booleans
_HISTORY = re.compile(r"(In|Out)\[(-?\d+)\]")
_MACHINERY = {"IPython", "ipykernel"}  # packages whose frames run a cell but are no part of its error
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MISSING = object()

_Rows = Callable[[int, int], Iterable[Sequence[Any]]]  # the rows from a first position up to a last one


class _Text(NamedTuple):
    """What a block says about a value: the heading after its label, and the text fenced below it."""

    heading: str  # what the value is, after its label
    body: str
    language: str = ""


def context_blocks(names: str, namespace: Mapping[str, Any], budget: int) -> str:
    """The blocks of the comma-separated ``names`` (e.g. "df, In[3], Out[2], _"), joined by blank lines.

    Every name is checked before any is described, so one mistake is reported with
    all the others and nothing reaches the model.
    """
    wanted = list(dict.fromkeys(name.strip() for name in names.split(",") if name.strip()))
    refused = [name for name in wanted if not (name.isidentifier() or _HISTORY.fullmatch(name))]
    if refused:
        what = "is not a name" if len(refused) == 1 else "are not names"
        raise ValueError(f"--context: {', '.join(refused)} {what}; only names, In[n], Out[n] and _ are accepted "
                         "(compute the value into a variable first).")
    values = {name: _look_up(name, namespace) for name in wanted}
    unknown = [name for name, value in values.items() if value is _MISSING]
    if unknown:
        them = "it" if len(unknown) == 1 else "them"
        raise ValueError(f"--context: no variable named {', '.join(unknown)}. Define {them} in a cell first.")
    return "\n\n".join(describe(name, value, budget) for name, value in values.items())


def _look_up(name: str, namespace: Mapping[str, Any]) -> Any:
    """The value ``name`` refers to, reading ``In[n]`` and ``Out[n]`` from IPython's history; nothing is evaluated."""
    history = _HISTORY.fullmatch(name)
    if history is None:
        return namespace.get(name, _MISSING)
    try:
        return namespace[history[1]][int(history[2])]
    except (KeyError, IndexError, TypeError):
        return _MISSING


def describe(label: str, value: object, budget: int) -> str:
    """One labelled fenced block for ``value``, at most ``budget`` characters in all."""
    if budget < SMALLEST_CONTEXT_BUDGET:
        raise ValueError(f"--context-chars: a block needs at least {SMALLEST_CONTEXT_BUDGET} characters, not {budget}.")
    text = _text_of(value)
    return _fenced(f"**{label}**: {text.heading}", text.body, budget, language=text.language,
                   option="--context-chars")


def error_report(exc: BaseException) -> str:
    """What the model needs to explain an error: its type and message, traceback and the cell that raised it."""
    frames = _cell_traceback(exc.__traceback__)
    blocks = [_fenced(f"**Exception**: {_type_name(type(exc))}", _exception_line(exc), CONTEXT_BUDGET)]
    if frames is not None:
        blocks.append(_fenced("**Traceback**", _traceback_text(exc), CONTEXT_BUDGET))
    cell = _cell_source(exc, frames)
    if cell is not None:
        filename, source = cell
        blocks.append(_fenced(f"**Cell** {code_span(filename)}", source, CONTEXT_BUDGET, language="python"))
    return "\n\n".join(blocks)


def _cell_source(exc: BaseException, frames: TracebackType | None) -> tuple[str, str] | None:
    """The file name and source of the cell that was run, which IPython keeps in ``linecache``.

    A cell that does not compile has no frame of its own: its name is on the SyntaxError.
    """
    if frames is not None:
        filename = frames.tb_frame.f_code.co_filename
    elif isinstance(exc, SyntaxError) and exc.filename:
        filename = exc.filename
    else:
        return None
    source = "".join(linecache.getlines(filename)).rstrip("\n")
    return (filename, source) if source else None


# What a block says about a value, by kind -----------------------------------------------------------


def _text_of(value: object) -> _Text:
    for cls in type(value).__mro__:  # a subclass (a GeoDataFrame, say) reads as what it extends
        library_type = _LIBRARY_TYPES.get((cls.__module__.partition(".")[0], cls.__name__))
        if library_type is not None:
            return library_type(value)
    if isinstance(value, BaseException):
        return _Text(f"{_type_name(type(value))} exception", _traceback_text(value))
    if isinstance(value, str):
        return _Text(f"str, {count(len(value), 'character')}", value)
    # A named tuple is left to its repr, which keeps the field names that JSON would drop.
    if isinstance(value, (dict, list)) or type(value) is tuple:
        return _json(value)
    return _Text(_type_name(type(value)), _shown(repr, value))


def _json(value: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> _Text:
    try:
        text = json.dumps(value, default=str, indent=1, ensure_ascii=False)
    except (TypeError, ValueError):  # keys JSON cannot hold, or a container that holds itself
        return _Text(_type_name(type(value)), _shown(repr, value))
    size = count(len(value), "key") if isinstance(value, dict) else count(len(value), "item")
    return _Text(f"{_type_name(type(value))}, {size}", text, "json")


def _pandas_frame(frame: Any) -> _Text:
    length, width = frame.shape
    shown = frame.iloc[:, :_COLUMNS]
    columns = [_pandas_column_line(name, shown.iloc[:, position]) for position, name in enumerate(shown.columns)]
    header = [_index_header(frame.index), *(_cell(name) for name in shown.columns)]
    samples = _samples(length, header, lambda start, stop: shown.iloc[start:stop].itertuples(name=None))
    return _Text(f"pandas DataFrame, {count(length, 'row')} × {count(width, 'column')}",
                 f"columns:\n{_column_table(columns, width)}\n\n{samples}")


def _pandas_series(series: Any) -> _Text:
    name = "" if series.name is None else f" {series.name!r}"
    summary = _summarised(_pandas_summary, series)
    header = [_index_header(series.index), "value" if series.name is None else _cell(series.name)]
    samples = _samples(len(series), header, lambda start, stop: series.iloc[start:stop].items())
    return _Text(f"pandas Series{name}, {count(len(series), 'value')}, {series.dtype}",
                 f"missing {int(series.isna().sum()):,} · {summary}\n\n{samples}")


def _pandas_column_line(name: object, column: Any) -> list[str]:
    return _column_line(name, column.dtype, int(column.isna().sum()), _summarised(_pandas_summary, column))


def _pandas_summary(column: Any) -> str:
    kind = column.dtype.kind
    if kind in "iuf":
        return _spread(column.min(), column.mean(), column.max())
    if kind in "mM":
        return _range(column.min(), column.max())
    counts = column.value_counts()
    return _top(len(counts), list(counts.head(_TOP).items()))


def _index_header(index: Any) -> str:
    return "(index)" if index.name is None else _cell(index.name)


def _polars_frame(frame: Any) -> _Text:
    length, width = frame.shape
    shown = frame.select(frame.columns[:_COLUMNS])
    columns = [_column_line(column.name, column.dtype, column.null_count(), _summarised(_polars_summary, column))
               for column in shown.get_columns()]
    header = ["#", *(_cell(name) for name in shown.columns)]
    samples = _samples(length, header, lambda start, stop: (
        (position, *row) for position, row in enumerate(shown.slice(start, stop - start).rows(), start)))
    return _Text(f"polars DataFrame, {count(length, 'row')} × {count(width, 'column')}",
                 f"columns:\n{_column_table(columns, width)}\n\n{samples}")


def _polars_series(series: Any) -> _Text:
    name = f" {series.name!r}" if series.name else ""
    summary = _summarised(_polars_summary, series)
    header = ["#", _cell(series.name) if series.name else "value"]
    samples = _samples(len(series), header, lambda start, stop: enumerate(
        series.slice(start, stop - start).to_list(), start))
    return _Text(f"polars Series{name}, {count(len(series), 'value')}, {series.dtype}",
                 f"missing {series.null_count():,} · {summary}\n\n{samples}")


def _polars_summary(column: Any) -> str:
    if column.dtype.is_numeric():
        return _spread(column.min(), column.mean(), column.max())
    if column.dtype.is_temporal():
        return _range(column.min(), column.max())
    counts = column.drop_nulls().value_counts(sort=True)
    return _top(counts.height, counts.head(_TOP).rows())


def _numpy_array(array: Any) -> _Text:
    heading = f"numpy ndarray, shape {array.shape}, {array.dtype}"
    values = _shown(repr, array)  # numpy's own repr, which summarises a large array
    if array.dtype.kind not in "iuf" or not array.size:
        return _Text(heading, values)
    return _Text(heading, f"{_array_spread(array)}\n\n{values}")


def _array_spread(array: Any) -> str:
    """Min, mean and max of the values that are not NaN, and how many are NaN."""
    present = array[array == array]  # NaN is the one value unequal to itself
    nan = array.size - present.size
    if not present.size:
        return f"all {nan:,} values NaN"
    spread = _spread(present.min(), present.mean(), present.max())
    return f"{spread} · NaN {nan:,}" if nan else spread


_LIBRARY_TYPES: dict[tuple[str, str], Callable[[Any], _Text]] = {
    ("pandas", "DataFrame"): _pandas_frame,
    ("pandas", "Series"): _pandas_series,
    ("polars", "DataFrame"): _polars_frame,
    ("polars", "Series"): _polars_series,
    ("numpy", "ndarray"): _numpy_array,
}


# Tables of columns and rows --------------------------------------------------------------------------


def _column_line(name: object, dtype: object, missing: int, summary: str) -> list[str]:
    return [_cell(name), _cell(dtype, _LONG_CELL_WIDTH), f"{missing:,}", summary]


def _column_table(lines: Sequence[Sequence[str]], width: int) -> str:
    """A line per column, saying how many more the frame has when they are too many to show."""
    table = _table(["column", "dtype", "missing", "summary"], lines)
    if width <= len(lines):
        return table
    return f"{table}\n… {width - len(lines):,} more columns, not summarised nor shown in the rows below"


def _summarised(summarise: Callable[[Any], str], column: Any) -> str:
    try:
        return summarise(column)
    except Exception as error:  # values of any type, some of which cannot be compared or counted
        return f"no summary: {_cell(_exception_line(error), _LONG_CELL_WIDTH)}"


def _spread(low: object, mean: object, high: object) -> str:
    shown_mean = f"{mean:.7g}" if isinstance(mean, float) else _cell(mean)
    return f"min {_cell(low)} · mean {shown_mean} · max {_cell(high)}"


def _range(low: object, high: object) -> str:
    return f"min {_cell(low)} · max {_cell(high)}"


def _top(distinct: int, counts: Sequence[tuple[Any, Any]]) -> str:
    """How many distinct values, and the most frequent ones with their counts."""
    if not counts:
        return "no values"
    if int(counts[0][1]) == 1:
        return f"{distinct:,} distinct, each once"
    top = ", ".join(f"{_cell(value)} ({int(count):,})" for value, count in counts)
    return f"{distinct:,} distinct · top: {top}"


def _samples(length: int, header: Sequence[str], rows: _Rows) -> str:
    """The first and last rows, or all of them when there are few."""
    if length == 0:
        return "no rows"
    if length <= 2 * _SAMPLE:
        return f"rows 0–{length - 1} (all):\n{_row_table(header, rows(0, length))}"
    first = f"rows 0–{_SAMPLE - 1}:\n{_row_table(header, rows(0, _SAMPLE))}"
    last = _row_table(header, rows(length - _SAMPLE, length))
    return f"{first}\n\nlast {_SAMPLE} rows, {length - _SAMPLE:,}–{length - 1:,}:\n{last}"


def _row_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    return _table(header, [[_cell(value) for value in row] for row in rows])


def _table(header: Sequence[str], lines: Iterable[Sequence[str]]) -> str:
    """A Markdown table of cells already shortened and escaped."""
    return "\n".join(f"| {' | '.join(cells)} |" for cells in [header, ["---"] * len(header), *lines])


def _cell(value: object, width: int = _CELL_WIDTH) -> str:
    """A value on one short line, with ``|`` escaped so it stays in its column."""
    return shorten(_shown(str, value), width).replace("|", "\\|")


# Text -------------------------------------------------------------------------------------------------


def _fenced(heading: str, body: str, budget: int, *, language: str = "", option: str = "") -> str:
    """``heading`` over ``body`` fenced, within ``budget``: cut at a line when it can be, saying so.

    ``option`` names the setting that raises the budget, for the line that says what was cut.
    """
    heading = shorten(heading, _HEADING_WIDTH)
    whole = f"{heading}\n{code_block(body, language)}"
    if len(whole) <= budget:
        return whole
    framing = len(whole) - len(body)  # the heading, the fences around the body and their line breaks
    room = budget - framing - len(_cut_notice(budget, option, len(body))) - 1
    kept = _cut(body, room)
    notice = _cut_notice(budget, option, len(body) - len(kept))
    shown = f"{kept}\n{notice}" if kept else notice
    return f"{heading}\n{code_block(shown, language)}"


def _cut(text: str, room: int) -> str:
    """The start of ``text`` in ``room`` characters, ending at a line break unless that loses over half."""
    room = max(room, 0)
    line_end = text.rfind("\n", 0, room + 1)
    return text[:line_end] if line_end > room // 2 else text[:room]


def _cut_notice(budget: int, option: str, left_out: int) -> str:
    limit = f" ({option})" if option else ""
    return f"… cut at {budget:,} characters{limit}: {left_out:,} more characters left out"


def _traceback_text(exc: BaseException) -> str:
    frames = _cell_traceback(exc.__traceback__)
    return _plain("".join(traceback.format_exception(type(exc), exc, frames))).rstrip("\n")


def _cell_traceback(frames: TracebackType | None) -> TracebackType | None:
    """The traceback from the cell on: the frames of the machinery that ran the cell explain nothing."""
    while frames is not None and _is_machinery(frames.tb_frame):
        frames = frames.tb_next
    return frames


def _is_machinery(frame: FrameType) -> bool:
    return str(frame.f_globals.get("__name__", "")).partition(".")[0] in _MACHINERY


def _exception_line(exc: BaseException) -> str:
    """``Type: message`` (with the offending line for a SyntaxError), even when ``str(exc)`` fails."""
    return _plain("".join(traceback.format_exception_only(type(exc), exc))).rstrip("\n")


def _plain(text: str) -> str:
    """``text`` without terminal colour codes, which a model reads as noise."""
    return _ANSI.sub("", text)


def _shown(convert: Callable[[object], str], value: object) -> str:
    """``str`` or ``repr`` of a value, or what went wrong: a broken ``__repr__`` must not stop the message."""
    try:
        return convert(value)
    except Exception as error:  # any code at all runs in a user's __repr__
        return f"({convert.__name__}() failed: {_exception_line(error)})"


def _type_name(cls: type) -> str:
    """``Class`` for built-in and notebook classes, ``module.Class`` for the rest."""
    if cls.__module__ in {"builtins", "__main__"}:
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"

