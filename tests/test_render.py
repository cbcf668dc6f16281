"""The live renderer: incremental output equals rendering the whole text at once.

``IncrementalHTML`` keeps finished blocks and re-renders only the open tail;
these tests hold it to ``render_html`` of the text so far, at every update,
for Markdown built from the constructs where later text changes earlier
output (setext underlines, lazy lines, loose lists, open fences, tables,
reference definitions).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mistral_magic import render
from mistral_magic.cell_output import LiveMarkdown
from mistral_magic.render import IncrementalHTML, bundle, render_html

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


class Recorder:
    """A display handle that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def __call__(self, data: dict[str, str], **kwargs: Any) -> Recorder:
        self.sent.append(data)
        return self

    def update(self, data: dict[str, str], raw: bool = False, **kwargs: Any) -> None:
        self.sent.append(data)


@contextlib.contextmanager
def catching_up_every(characters: int) -> Iterator[None]:
    """Make a long tail (which a burst of chunks leaves) out of a short text."""
    saved, render._STEP = render._STEP, characters
    try:
        yield
    finally:
        render._STEP = saved


@pytest.mark.parametrize("step", [8192, 48], ids=["as shipped", "catching up on short texts"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=chunked())
def test_every_update_is_the_whole_text_rendered(step: int, case: tuple[str, list[str]]) -> None:
    _, chunks = case
    incremental = IncrementalHTML()
    so_far = ""
    with catching_up_every(step):
        for chunk in chunks:
            so_far += chunk
            expected = render_html(so_far)
            assert incremental(so_far) == expected


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chunked(), st.sampled_from([0.0, 0.02, 1.0]))
def test_live_output_ends_as_the_whole_reply(case: tuple[str, list[str]], interval: float) -> None:
    text, chunks = case
    for end in range(len(chunks)):
        render_html("".join(chunks[: end + 1]))
    ticks = iter(range(10**6))
    recorder = Recorder()
    live = LiveMarkdown(interval=interval, clock=lambda: next(ticks) / 100, display=recorder)
    live.start()
    for chunk in chunks:
        live.append(chunk)
    live.finish(footer="model · 1 s")
    *updates, final = recorder.sent[1:]
    assert final == bundle(text, footer="model · 1 s")
    for update in updates:  # each shows the text that had arrived, rendered whole
        assert update == bundle(update["text/plain"])


def corpus() -> Any:
    """The benchmarks' realistic Markdown replies."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import corpus
    finally:
        sys.path.remove(str(BENCHMARKS))
    return corpus


def test_a_long_reply_is_rendered_block_by_block() -> None:
    replies = corpus()
    text = replies.markdown_reply(4000)
    recorder = Recorder()
    live = LiveMarkdown(interval=0, display=recorder)
    live.start()
    for token in replies.tokens(text):
        live.append(token)
    live.finish(notice="interrupted")
    assert recorder.sent[-1] == bundle(text, notice="interrupted")
    kept = live.reply._html._done_chars
    assert kept > len(text) * 0.9


def test_a_burst_is_caught_up_on_block_by_block() -> None:
    text = corpus().markdown_reply(16000)
    incremental = IncrementalHTML()
    for end in (len(text) // 3, len(text) * 2 // 3, len(text)):
        assert incremental(text[:end]) == render_html(text[:end])
    assert incremental._done_chars > len(text) * 0.9


def test_a_late_reference_definition_links_earlier_text() -> None:
    incremental = IncrementalHTML()
    text = "See [docs].\n\nMore text.\n\nEven more.\n\n"
    assert "<a" not in incremental(text)
    text += "[docs]: https://example.com\n"
    assert incremental(text) == render_html(text)
    assert 'href="https://example.com"' in incremental(text)


def test_an_open_fence_keeps_everything_after_it() -> None:
    incremental = IncrementalHTML()
    text = "Intro.\n\n```\ncode\n\nNot a paragraph\n\n"
    assert incremental(text) == render_html(text)
    text += "```\n\nA paragraph\n\n"
    assert incremental(text) == render_html(text)


def test_loading_the_extension_imports_no_heavy_dependency() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.core.history import HistoryAccessor\n"
        "HistoryAccessor.enabled = False\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'mistral_magic')\n"
        "print(sorted(m for m in ('httpx', 'markdown_it', 'ipywidgets', 'linkify_it') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
