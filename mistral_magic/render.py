"""Showing replies: safe Markdown to HTML, and live outputs that stream cheaply.

Model output is untrusted, so the renderer is markdown-it-py's ``js-default``
preset: raw HTML is escaped, and ``javascript:``, ``vbscript:``, ``file:`` and
non-image ``data:`` links are refused. A live output keeps one display id and
updates it at most every ``interval`` seconds, so a fast stream sends a
handful of messages rather than one per chunk, and it renders each finished
Markdown block once, so an update costs the same at the end of a long reply
as at its start.
"""

from __future__ import annotations

import html
import re
import sys
import threading
import time
from typing import Any, Callable, Protocol, TextIO

from .protocol import TextBuffer

__all__ = ["IncrementalHTML", "LiveMarkdown", "LiveText", "Sink", "bundle", "render_html"]

WAITING = "waiting for model…"

_md: Any = None
_md_lock = threading.Lock()
# Rendered once when the parser is built, so that linkify compiles its patterns
# then (about 10 ms) rather than on a reply's first token.
_WARM_UP = "# a\n\n- *b* `c` https://example.com [d](https://example.com)\n\n| e |\n|---|\n| f |\n"


def _markdown() -> Any:
    """The shared parser, built on first use (markdown-it is imported only then)."""
    global _md
    if _md is None:
        with _md_lock:
            if _md is None:
                from markdown_it import MarkdownIt

                md = MarkdownIt("js-default", {"linkify": True}).enable("linkify")
                md.add_render_rule("link_open", _open_link_in_new_tab)
                md.render(_WARM_UP)
                _md = md
    return _md


def _open_link_in_new_tab(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)  # type: ignore[no-any-return]


def render_html(markdown: str) -> str:
    """Render untrusted Markdown to HTML that carries no script."""
    return _markdown().render(markdown)  # type: ignore[no-any-return]


def bundle(markdown: str, *, notice: str = "", footer: str = "",
           renderer: IncrementalHTML | None = None) -> dict[str, str]:
    """The MIME bundle of a reply: rendered HTML, its Markdown, and the Markdown as plain text.

    A live output passes its ``renderer`` so that only the open tail is rendered again.
    """
    rendered = renderer.parts(markdown) if renderer is not None else [render_html(markdown)]
    # One join: at the end of a long reply each copy of the HTML costs more than rendering.
    body = ['<div class="mistral-reply">', *rendered]
    text = markdown
    if notice:
        body.append(f'<div class="mistral-notice" style="color:#b45309">⚠ {html.escape(notice)}</div>')
        text += f"\n\n⚠ {notice}"
    if footer:
        body.append(f'<div class="mistral-footer" style="color:#888;font-size:0.85em">{html.escape(footer)}</div>')
        text += f"\n\n— {footer}"
    body.append("</div>")
    return {"text/html": "".join(body), "text/markdown": text, "text/plain": text}


# Rendering gets at most 1/_SLOWDOWN of a stream's time, however costly an update becomes.
_SLOWDOWN = 50

# Characters of Markdown parsed at once when an update has a long tail to catch up on.
_STEP = 8192

# A line that could start or continue a list item: such a line may extend the list above it.
_LIST_MARKER = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")


class IncrementalHTML:
    """``render_html`` of a text that only grows, re-rendering only its open tail.

    Top-level blocks that can no longer change are rendered once and kept. A
    block is finished when a blank line and then a complete line that starts in
    column 0 with no list marker follow it, and markdown-it starts a new block
    there: no later text can reach back across that line (paragraphs, tables
    and quotes end at the blank line, lists and indented code at the unindented
    line, and an open fence would have swallowed it). Only link reference
    definitions act at a distance, so once one appears the whole text is
    rendered on every call. Each call returns exactly ``render_html(text)``.
    """

    def __init__(self) -> None:
        self._done = TextBuffer()  # the HTML of finished blocks
        self._done_chars = 0
        self._whole = False
        self.open_share = 1.0  # of the text rendered by the last call, the part it will render again

    def __call__(self, text: str) -> str:
        return "".join(self.parts(text))

    def parts(self, text: str) -> list[str]:
        """The HTML in pieces that join to ``render_html(text)``, so callers copy it once."""
        tail_chars = len(text) - self._done_chars
        self._catch_up(text)
        parsed = None if self._whole else self._parse(text[self._done_chars:])
        if parsed is None:
            self.open_share = 1.0
            return [render_html(text)]
        self.open_share = (len(text) - self._done_chars) / max(tail_chars, 1)
        md = _markdown()
        return [*self._done.pieces(), md.renderer.render(parsed[0], md.options, parsed[1])]

    def _catch_up(self, text: str) -> None:
        """Keep the finished blocks of a long tail (a burst since the last update) a piece at a time.

        Tokens for all of it at once would crowd the allocator for the rest of the session.
        """
        while not self._whole and len(text) - self._done_chars > 2 * _STEP:
            kept = self._done_chars  # a prefix is the text as it was earlier: its cuts hold
            if self._parse(text[kept:kept + _STEP]) is None or self._done_chars == kept:
                return

    def _parse(self, tail: str) -> tuple[list[Any], dict[str, Any]] | None:
        """Keep the HTML of the finished blocks of ``tail``; the rest's tokens, or None for a whole render."""
        md = _markdown()
        env: dict[str, Any] = {}
        tokens = md.parse(tail, env)
        if "references" in env:
            # ``[x]: url`` can turn ``[x]`` in a block kept earlier into a link.
            self._whole = True
            return None
        cut = _last_cut(tail, tokens)
        if cut is not None:
            index, chars = cut
            self._done.append(md.renderer.render(tokens[:index], md.options, env))
            self._done_chars += chars
            tokens = tokens[index:]
        return tokens, env


def _last_cut(tail: str, tokens: list[Any]) -> tuple[int, int] | None:
    """The last (token index, character offset) where every block before is finished."""
    if "\r" in tail:
        return None  # markdown-it counts a lone CR as a line end; offsets would drift
    lines = tail.split("\n")
    for index in range(len(tokens) - 1, 0, -1):
        token = tokens[index]
        if token.level or token.nesting < 0 or not token.map:
            continue
        line = token.map[0]
        first = lines[line]
        if (line + 1 < len(lines)  # the line is complete
                and not lines[line - 1].strip(" \t")
                and first[:1] not in ("", " ", "\t")
                and not _LIST_MARKER.match(first)):
            return index, sum(map(len, lines[:line])) + line
    return None


class Sink(Protocol):
    """Where a reply streams to: a cell output, a terminal, a widget."""

    def start(self) -> None: ...
    def status(self, text: str) -> None: ...
    def append(self, text: str) -> None: ...
    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        """End the reply; ``record`` says how it was produced (kept as output metadata)."""


class LiveMarkdown:
    """One rich output for one reply, updated in place and throttled.

    ``display`` is IPython's ``display`` unless given (benchmarks and tests
    pass a recorder); it must accept ``raw=True, display_id=True`` and return
    a handle with ``update(data, raw=True)``.
    """

    def __init__(self, *, interval: float = 1 / 12, clock: Callable[[], float] = time.monotonic,
                 display: Callable[..., Any] | None = None) -> None:
        self.interval = interval
        self._clock = clock
        self._display = display
        self._text = ""
        self._pending = TextBuffer()
        self._html = IncrementalHTML()
        self._handle: Any = None
        self._shown_at: float | None = None
        self._wait = interval
        self.updates = 0

    def start(self) -> None:
        if _md is None:
            # Build the parser while the request is in flight, not on the first token.
            threading.Thread(target=_markdown, name="mistral-magic-warm-up", daemon=True).start()
        display = self._display
        if display is None:
            from IPython.display import display
        self._handle = display(_quiet(WAITING), raw=True, display_id=True)

    def status(self, text: str) -> None:
        """Show why the reply is not here yet (waiting, retrying)."""
        self._show(_quiet(text))

    def append(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        now = self._clock()
        if self._shown_at is None or now - self._shown_at >= self._wait:
            started = time.perf_counter()
            data = self._bundle()
            rendered = time.perf_counter()
            self._show(data)
            # What the next update repeats (rendering the open block, sending the whole output)
            # may cost at most 1/_SLOWDOWN of the wait for it, so a block that grows without end
            # (one huge list) is shown less often rather than slowing the kernel. Blocks that
            # were rendered once for good don't count.
            repeats = (rendered - started) * self._html.open_share + time.perf_counter() - rendered
            self._wait = max(self.interval, repeats * _SLOWDOWN)
            self._shown_at = now

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        if not self._text and not self._pending and not footer:
            # Nothing arrived: clear the indicator; the error line below says why.
            self._show({"text/plain": ""})
            return
        self._show(self._bundle(notice=notice, footer=footer),
                   {"mistral_magic": record} if record else None)

    def _bundle(self, *, notice: str = "", footer: str = "") -> dict[str, str]:
        if self._pending:
            self._text += str(self._pending)
            self._pending = TextBuffer()
        return bundle(self._text, notice=notice, footer=footer, renderer=self._html)

    def _show(self, data: dict[str, str], metadata: dict[str, Any] | None = None) -> None:
        self._handle.update(data, raw=True, metadata=metadata or {})
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

    def finish(self, *, footer: str = "", notice: str = "", record: dict[str, Any] | None = None) -> None:
        lines = [f"⚠ {notice}"] if notice else []
        lines += [f"— {footer}"] if footer else []
        head = "" if self._ends_with_newline else "\n"
        self._stream.write(head + "".join(f"\n{line}\n" for line in lines))
        self._stream.flush()
