"""A cell's live output: throttled updates that each show the text so far, ending as the whole reply."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mistral_magic.cell_output import LiveMarkdown
from mistral_magic.render import bundle, render_html

from markdown_cases import chunked, corpus


class Recorder:
    """A display handle that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def __call__(self, data: dict[str, str], **kwargs: Any) -> Recorder:
        self.sent.append(data)
        return self

    def update(self, data: dict[str, str], raw: bool = False, **kwargs: Any) -> None:
        self.sent.append(data)


@settings(max_examples=200)
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
