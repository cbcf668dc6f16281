"""The live renderer: incremental output equals rendering the whole text at once.

``IncrementalHTML`` keeps finished blocks and re-renders only the open tail;
these tests hold it to ``render_html`` of the text so far, at every update,
for Markdown built from the constructs where later text changes earlier
output (setext underlines, lazy lines, loose lists, open fences, tables,
reference definitions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from mistral_magic import render
from mistral_magic.render import IncrementalHTML, render_html

from markdown_cases import chunked, corpus


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
