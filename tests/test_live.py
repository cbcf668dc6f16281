"""A reply while it streams: what a surface draws, and how often the throttle lets it."""

from __future__ import annotations

import time

from mistral_magic.live import LiveReply, Throttle, footer, usage_line
from mistral_magic.protocol import Reply
from mistral_magic.render import bundle


def test_a_live_reply_draws_as_the_whole_text_would():
    live = LiveReply()
    for piece in ("# Title\n\n", "Some *text*", " and more."):
        assert live.append(piece)
    assert not live.append("") and live.chunks == 3
    live.finish(footer="model · 1 s", notice="cut")
    assert live.bundle() == bundle("# Title\n\nSome *text* and more.", notice="cut", footer="model · 1 s")


def test_the_throttle_draws_at_most_every_interval():
    now = [0.0]
    throttle, drawn = Throttle(0.1, clock=lambda: now[0]), []
    for _ in range(100):  # one second at 100 chunks per second
        if throttle.due():
            throttle.draw(lambda: "x", drawn.append)
        now[0] += 0.01
    assert len(drawn) == 10


def test_a_costly_draw_makes_the_throttle_wait_longer():
    now = [0.0]
    throttle = Throttle(0.1, clock=lambda: now[0])

    def slow_render() -> str:
        deadline = time.perf_counter() + 0.01  # 10 ms of rendering, all of it repeated
        while time.perf_counter() < deadline:
            pass
        return "x"

    throttle.draw(slow_render, lambda _: None)
    now[0] = 0.2
    assert not throttle.due()  # 10 ms × 50 = at least 0.5 s before the next draw
    now[0] = 0.6
    assert throttle.due()


def test_one_usage_line_under_every_reply():
    assert usage_line({"prompt_tokens": 12, "completion_tokens": 40}) == "12 in / 40 out tokens"
    assert usage_line(None) == ""
    reply = Reply(usage={"prompt_tokens": 3, "completion_tokens": 5}, finish_reason="length", started=1.0)
    reply.ended = 3.5
    assert footer(reply, "mistral-small-latest", ["a note"]) == (
        "mistral-small-latest · 3 in / 5 out tokens · total 2.50 s · "
        "cut short by the token limit: raise --max-tokens to get more · a note")
