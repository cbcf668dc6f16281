"""Showing replies: safe Markdown to HTML, and live outputs that stream cheaply.

Model output is untrusted, so the renderer is markdown-it-py's ``js-default``
preset: raw HTML is escaped, and ``javascript:``, ``vbscript:``, ``file:`` and
non-image ``data:`` links are refused. A live output keeps one display id and
updates it at most every ``interval`` seconds, so a fast stream sends a
handful of messages rather than one per chunk.
"""

from __future__ import annotations

import functools
import html
import sys
import time
from typing import Any, Callable, Protocol, TextIO

__all__ = ["LiveMarkdown", "LiveText", "Sink", "bundle", "render_html"]

WAITING = "waiting for model…"


@functools.lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("js-default", {"linkify": True}).enable("linkify")
    md.add_render_rule("link_open", _open_link_in_new_tab)
    return md


def _open_link_in_new_tab(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)  # type: ignore[no-any-return]


def render_html(markdown: str) -> str:
    """Render untrusted Markdown to HTML that carries no script."""
    return _markdown().render(markdown)  # type: ignore[no-any-return]


def bundle(markdown: str, *, notice: str = "", footer: str = "") -> dict[str, str]:
    """The MIME bundle of a reply: rendered HTML, its Markdown, and the Markdown as plain text."""
    body = f'<div class="mistral-reply">{render_html(markdown)}'
    text = markdown
    if notice:
        body += f'<div class="mistral-notice" style="color:#b45309">⚠ {html.escape(notice)}</div>'
        text += f"\n\n⚠ {notice}"
    if footer:
        body += f'<div class="mistral-footer" style="color:#888;font-size:0.85em">{html.escape(footer)}</div>'
        text += f"\n\n— {footer}"
    return {"text/html": body + "</div>", "text/markdown": text, "text/plain": text}


class Sink(Protocol):
    """Where a reply streams to: a cell output, a terminal, a widget."""

    def start(self) -> None: ...
    def status(self, text: str) -> None: ...
    def append(self, text: str) -> None: ...
    def finish(self, *, footer: str = "", notice: str = "") -> None: ...


class LiveMarkdown:
    """One rich output for one reply, updated in place and throttled."""

    def __init__(self, *, interval: float = 1 / 12, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._parts: list[str] = []
        self._handle: Any = None
        self._shown_at: float | None = None
        self.updates = 0

    def start(self) -> None:
        from IPython.display import display

        self._handle = display(_quiet(WAITING), raw=True, display_id=True)

    def status(self, text: str) -> None:
        """Replace the waiting line, e.g. with why and when a request is retried."""
        self._show(_quiet(text))

    def append(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        now = self._clock()
        if self._shown_at is None or now - self._shown_at >= self.interval:
            self._show(bundle("".join(self._parts)))
            self._shown_at = now

    def finish(self, *, footer: str = "", notice: str = "") -> None:
        if not self._parts and not footer:
            # Nothing arrived: clear the indicator; the error line below says why.
            self._show({"text/plain": ""})
            return
        self._show(bundle("".join(self._parts), notice=notice, footer=footer))

    def _show(self, data: dict[str, str]) -> None:
        self._handle.update(data, raw=True)
        self.updates += 1


def _quiet(text: str) -> dict[str, str]:
    return {"text/html": f'<span style="color:#888">{html.escape(text)}</span>', "text/plain": text}


class LiveText:
    """A reply printed as it arrives, for terminal IPython and plain Python."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._ends_with_newline = True

    def start(self) -> None:
        pass

    def status(self, text: str) -> None:
        self._stream.write(f"{text}\n")
        self._stream.flush()

    def append(self, text: str) -> None:
        if text:
            self._stream.write(text)
            self._stream.flush()
            self._ends_with_newline = text.endswith("\n")

    def finish(self, *, footer: str = "", notice: str = "") -> None:
        lines = [f"⚠ {notice}"] if notice else []
        lines += [f"— {footer}"] if footer else []
        head = "" if self._ends_with_newline else "\n"
        self._stream.write(head + "".join(f"\n{line}\n" for line in lines))
        self._stream.flush()
