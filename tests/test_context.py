"""``--context`` blocks and ``%mistral_explain`` reports, read as the model reads them: Markdown text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from markdown_it import MarkdownIt

from mistral_magic.context import context_blocks, describe, error_report
from mistral_magic.params import CONTEXT_BUDGET as DEFAULT_BUDGET

ROWS = 100_000
CITIES = ["Paris", "Lyon", "Nice", "Lille", "Brest"]


def fenced(block: str) -> tuple[str, str]:
    """The label line and the fenced text of a block, as a Markdown reader finds them."""
    tokens = MarkdownIt().parse(block)
    fences = [token for token in tokens if token.type == "fence"]
    assert len(fences) == 1, block
    assert fences[0].map is not None and fences[0].map[1] == len(block.splitlines()), "text after the fence"
    return block.splitlines()[0], fences[0].content


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return float(found[1].replace(",", ""))


def table_rows(text: str, first: str) -> list[list[str]]:
    """The cells of each row of the Markdown table that follows the line ``first``."""
    lines = text.split(first + "\n", 1)[1].split("\n\n", 1)[0].splitlines()
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines[2:]]


@pytest.fixture(scope="module")
def frame() -> Any:
    pd = pytest.importorskip("pandas")
    np = pytest.importorskip("numpy")
    positions = np.arange(ROWS)
    price = positions % 200 + 0.5
    price[positions % 50 == 0] = np.nan
    return pd.DataFrame({
        "id": positions,
        "price": price,
        "city": np.array(CITIES)[positions % 5],
        "when": pd.date_range("2024-01-01", periods=ROWS, freq="min"),
    })


def test_a_large_frame_shows_its_shape_columns_summaries_and_both_ends(frame: Any) -> None:
    started = time.perf_counter()
    block = describe("df", frame, DEFAULT_BUDGET)
    took = time.perf_counter() - started

    label, text = fenced(block)
    assert label == "**df**: pandas DataFrame, 100,000 rows × 4 columns"
    assert len(block) <= DEFAULT_BUDGET and "cut at" not in block
    assert took < 1, f"{took:.2f} s for {ROWS:,} rows"

    columns = {row[0]: row[1:] for row in table_rows(text, "columns:")}
    assert {name: dtype for name, (dtype, _, _) in columns.items()} == {
        name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert columns["id"][1:] == ["0", "min 0 · mean 49999.5 · max 99999"]
    missing, summary = columns["price"][1:]
    assert missing == f"{frame.price.isna().sum():,}" == "2,000"
    assert number(r"min ([\d.]+)", summary) == frame.price.min() == 1.5
    assert number(r"mean ([\d.]+)", summary) == pytest.approx(frame.price.mean(), rel=1e-6)
    assert number(r"max ([\d.]+)", summary) == frame.price.max() == 199.5
    assert columns["city"][1:] == ["0", "5 distinct · top: Paris (20,000), Lyon (20,000), Nice (20,000)"]
    assert columns["when"][1:] == ["0", "min 2024-01-01 00:00:00 · max 2024-03-10 10:39:00"]

    head = table_rows(text, "rows 0–4:")
    assert head[0] == ["0", "0", "nan", "Paris", "2024-01-01 00:00:00"]
    assert [row[0] for row in head] == ["0", "1", "2", "3", "4"]
    tail = table_rows(text, "last 5 rows, 99,995–99,999:")
    assert tail[-1] == ["99999", "99999", "199.5", "Brest", "2024-03-10 10:39:00"]
    assert [row[0] for row in tail] == ["99995", "99996", "99997", "99998", "99999"]


def test_a_short_frame_shows_every_row_once() -> None:
    pd = pytest.importorskip("pandas")
    _, text = fenced(describe("small", pd.DataFrame({"n": range(7)}), DEFAULT_BUDGET))
    assert [row[1] for row in table_rows(text, "rows 0–6 (all):")] == [str(n) for n in range(7)]
    assert "last" not in text


def test_a_wide_frame_says_how_many_columns_it_leaves_out() -> None:
    pd = pytest.importorskip("pandas")
    block = describe("wide", pd.DataFrame({f"c{n}": [n] for n in range(80)}), 100_000)
    _, text = fenced(block)
    assert "| c49 | int64 | 0 |" in text and "c50" not in text
    assert "\n… 30 more columns, not summarised nor shown in the rows below\n" in text


@pytest.mark.parametrize("budget", [300, 450, 1000])
def test_a_tight_budget_cuts_at_a_line_and_says_how_much_is_left_out(frame: Any, budget: int) -> None:
    block = describe("df", frame, budget)
    whole = fenced(describe("df", frame, 100_000))[1]
    assert len(block) <= budget
    label, text = fenced(block)
    assert label == "**df**: pandas DataFrame, 100,000 rows × 4 columns"
    *kept, notice = text.rstrip("\n").split("\n")
    assert notice.startswith(f"… cut at {budget:,} characters (--context-chars): ")
    assert number(r": ([\d,]+) more characters left out$", notice) == len(whole.rstrip("\n")) - len("\n".join(kept))
    assert whole.startswith("\n".join(kept) + "\n"), "the cut fell inside a line"


def test_a_budget_too_small_for_any_block_is_refused() -> None:
    with pytest.raises(ValueError, match="--context-chars"):
        describe("x", "text", 50)


def test_backticks_pipes_and_line_breaks_in_values_stay_inside_their_cell_and_fence() -> None:
    pd = pytest.importorskip("pandas")
    hostile = ["```", "a | b", "````````\n``` end", "x" * 500]
    block = describe("t", pd.DataFrame({"col|umn": hostile, "n": range(4)}), DEFAULT_BUDGET)
    _, text = fenced(block)  # one fence, closed on the block's last line
    assert "````````\n``` end" not in text and "x" * 41 not in text
    rows = table_rows(text, "rows 0–3 (all):")
    assert [len(row) for row in rows] == [3] * 4
    assert [row[1] for row in rows[:2]] == ["```", "a \\| b"]
    assert table_rows(text, "columns:")[0][0] == "col\\|umn"


def test_a_string_that_holds_fences_is_quoted_whole() -> None:
    value = "before\n```\n`````python\nafter"
    label, text = fenced(describe("s", value, DEFAULT_BUDGET))
    assert label == f"**s**: str, {len(value)} characters"
    assert text == value + "\n"


def test_a_series_shows_its_name_dtype_length_summary_and_values(frame: Any) -> None:
    label, text = fenced(describe("price", frame.price, DEFAULT_BUDGET))
    assert label == "**price**: pandas Series 'price', 100,000 values, float64"
    assert text.startswith("missing 2,000 · min 1.5 · mean ")
    assert table_rows(text, "rows 0–4:")[1] == ["1", "1.5"]
    assert table_rows(text, "last 5 rows, 99,995–99,999:")[-1] == ["99999", "199.5"]


def test_a_text_series_shows_its_most_frequent_values(frame: Any) -> None:
    _, text = fenced(describe("city", frame.city.iloc[:10], DEFAULT_BUDGET))
    assert text.startswith("missing 0 · 5 distinct · top: Paris (2), Lyon (2), Nice (2)")


def test_an_array_shows_its_shape_dtype_range_and_values() -> None:
    np = pytest.importorskip("numpy")
    array = np.arange(12.0).reshape(3, 4)
    array[0, 0] = np.nan
    label, text = fenced(describe("a", array, DEFAULT_BUDGET))
    assert label == "**a**: numpy ndarray, shape (3, 4), float64"
    assert text.startswith("min 1.0 · mean 6 · max 11.0 · NaN 1\n")
    assert repr(array) in text


def test_a_polars_frame_shows_its_schema_summaries_and_both_ends() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": list(range(ROWS)),
                          "score": [None if n % 10 == 0 else n / 2 for n in range(ROWS)],
                          "city": [CITIES[n % 5] for n in range(ROWS)]})
    started = time.perf_counter()
    label, text = fenced(describe("pf", frame, DEFAULT_BUDGET))
    assert time.perf_counter() - started < 1
    assert label == "**pf**: polars DataFrame, 100,000 rows × 3 columns"
    columns = {row[0]: row[1:] for row in table_rows(text, "columns:")}
    assert columns["id"] == ["Int64", "0", "min 0 · mean 49999.5 · max 99999"]
    assert columns["score"][:2] == ["Float64", "10,000"]
    assert columns["city"] == ["String", "0", "5 distinct · top: Paris (20,000), Lyon (20,000), Nice (20,000)"]
    assert table_rows(text, "rows 0–4:")[1] == ["1", "1", "0.5", "Lyon"]
    assert table_rows(text, "last 5 rows, 99,995–99,999:")[-1] == ["99999", "99999", "49999.5", "Brest"]


def test_a_polars_series_shows_its_summary_and_values() -> None:
    pl = pytest.importorskip("polars")
    label, text = fenced(describe("s", pl.Series("flag", [True, False, True, None]), DEFAULT_BUDGET))
    assert label == "**s**: polars Series 'flag', 4 values, Boolean"
    assert text.startswith("missing 1 · 2 distinct · top: True (2), False (1)")
    assert table_rows(text, "rows 0–3 (all):")[3] == ["3", "None"]


def test_containers_are_json_and_long_ones_are_cut() -> None:
    value = {"name": "run", "sizes": [1, 2, 3], "when": (2024, 1)}
    label, text = fenced(describe("d", value, DEFAULT_BUDGET))
    assert label == "**d**: dict, 3 keys"
    assert json.loads(text) == {"name": "run", "sizes": [1, 2, 3], "when": [2024, 1]}

    block = describe("items", list(range(10_000)), 500)
    label, text = fenced(block)
    assert label == "**items**: list, 10,000 items" and len(block) <= 500
    assert text.startswith("[\n 0,\n 1,\n")
    assert re.search(r"\n… cut at 500 characters \(--context-chars\): [\d,]+ more characters left out\n$", text)


def test_an_exception_shows_its_type_message_and_traceback() -> None:
    def fail() -> None:
        raise KeyError("no such column")

    try:
        fail()
    except KeyError as caught:
        error = caught
    label, text = fenced(describe("err", error, DEFAULT_BUDGET))
    assert label == "**err**: KeyError exception"
    assert text.startswith("Traceback (most recent call last):")
    assert 'raise KeyError("no such column")' in text and text.endswith("KeyError: 'no such column'\n")


def test_an_object_whose_repr_fails_is_described_by_what_went_wrong() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("cannot show")

    _, text = fenced(describe("b", Broken(), DEFAULT_BUDGET))
    assert text == "(repr() failed: RuntimeError: cannot show)\n"


HISTORY = {"In": ["", "x = 41", "x + 1", "%%mistral --context In[1]"], "Out": {2: 42},
           "_": 42, "__": "", "x": 41}


def test_names_and_the_input_output_history_are_looked_up() -> None:
    blocks = context_blocks("x, In[1], Out[2], _, In[-2]", HISTORY, DEFAULT_BUDGET)
    assert [block.splitlines()[0] for block in blocks.split("\n\n")] == [
        "**x**: int", "**In[1]**: str, 6 characters", "**Out[2]**: int", "**_**: int", "**In[-2]**: str, 5 characters"]
    assert fenced(blocks.split("\n\n")[1])[1] == "x = 41\n"
    assert fenced(blocks.split("\n\n")[4])[1] == "x + 1\n"


def test_every_unknown_name_is_reported_at_once_on_one_line() -> None:
    with pytest.raises(ValueError) as raised:
        context_blocks("foo, x, In[9], Out[1], bar", HISTORY, DEFAULT_BUDGET)
    assert str(raised.value) == "--context: no variable named foo, In[9], Out[1], bar. Define them in a cell first."


@pytest.mark.parametrize("names", ["df.head()", "x, x + 1", "len(x)", "Out[x]"])
def test_expressions_are_refused_not_evaluated(names: str) -> None:
    class Watched(dict[str, object]):
        def __getitem__(self, key: object) -> object:
            raise AssertionError(f"looked up {key!r}")

    with pytest.raises(ValueError, match=r"only names, In\[n\], Out\[n\] and _ are accepted") as raised:
        context_blocks(names, Watched(), DEFAULT_BUDGET)
    assert "\n" not in str(raised.value) and "compute" in str(raised.value)


def test_describing_plain_values_imports_no_data_library() -> None:
    code = ("import sys\nfrom mistral_magic.context import describe\n"
            "describe('d', {'a': [1, 2]}, 4000)\ndescribe('s', 'text', 4000)\n"
            "print(sorted({'pandas', 'numpy', 'polars'} & set(sys.modules)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "[]\n"


# %mistral_explain, on errors raised by cells of a real shell ----------------------------------------


def test_an_error_report_has_the_exception_traceback_and_cell(shell: InteractiveShell) -> None:
    cell = "def f():\n    return 1/0\nf()"
    result = shell.run_cell(cell)
    assert result.error_in_exec is sys.last_value
    report = error_report(sys.last_value)

    blocks = report.split("\n\n")
    assert [fenced(block)[0] for block in blocks][:2] == ["**Exception**: ZeroDivisionError", "**Traceback**"]
    assert fenced(blocks[0])[1] == "ZeroDivisionError: division by zero\n"
    traceback = fenced(blocks[1])[1]
    assert "return 1/0" in traceback and traceback.endswith("ZeroDivisionError: division by zero\n")
    assert "interactiveshell.py" not in report and "\x1b[" not in report
    assert fenced(blocks[2])[0].startswith("**Cell** `<ipython-input-")
    assert fenced(blocks[2])[1] == cell + "\n"


def test_an_error_report_for_a_cell_that_does_not_compile(shell: InteractiveShell) -> None:
    cell = "total = (1 +\n    2\nprint(total"
    result = shell.run_cell(cell)
    assert isinstance(result.error_before_exec, SyntaxError) and result.error_before_exec is sys.last_value
    report = error_report(sys.last_value)

    blocks = report.split("\n\n")
    assert fenced(blocks[0])[0] == "**Exception**: SyntaxError"
    assert "SyntaxError: " in fenced(blocks[0])[1]
    assert [fenced(block)[1] for block in blocks[1:]] == [cell + "\n"]
    assert "interactiveshell.py" not in report and "\x1b[" not in report
