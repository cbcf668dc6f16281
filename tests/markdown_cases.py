"""Markdown for the rendering tests: the constructs where later text changes earlier output, and real replies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

LINES = [
    "", "", "", " ", "\t",
    "Some text", "more *text", "with `code` and **bold**", "a | b", "| a | b |", "|---|---|",
    "| 1 | 2 |", "---", "===", "***", "- - -", "-", "- item", "* item", "+ item", "-  item",
    "1. one", "2. two", "1) one", "10. ten", "1.", "  - nested", "   continued", "    code",
    "      deep", "```", "```py", "~~~", "````", "   ```", "  ```", "> quote", ">", "> - quoted item",
    "# Heading", "## Heading #", "[x]: https://example.com", "[x]", "see [x] and [y][x]",
    "[link](https://example.com)", "https://example.com/path", "<div>raw</div>", "line\\",
    "a  ", "&amp; &copy;", "\x00", "\u2028sep",
]


@st.composite
def markdownish(draw: Any) -> str:
    lines = draw(st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=8)), max_size=30))
    eol = draw(st.sampled_from(["\n", "\n", "\n", "\r\n"]))
    return eol.join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@st.composite
def chunked(draw: Any) -> tuple[str, list[str]]:
    text = draw(markdownish())
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=40)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in zip(bounds, bounds[1:])]


def corpus() -> Any:
    """The benchmarks' realistic Markdown replies."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import corpus
    finally:
        sys.path.remove(str(BENCHMARKS))
    return corpus
