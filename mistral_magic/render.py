"""Safe Markdown to HTML, rendered incrementally for text that only grows.

Model output is untrusted, so the renderer is markdown-it-py's ``js-default``
preset: raw HTML is escaped, and ``javascript:``, ``vbscript:``, ``file:`` and
non-image ``data:`` links are refused. :class:`IncrementalHTML` renders each
finished Markdown block once, so a streaming reply (:mod:`.live`) costs the
same to redraw at its end as at its start.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict, OptionsType

from .protocol import TextBuffer

__all__ = ["IncrementalHTML", "Thinking", "bundle", "code_blocks", "render_html", "warm_up"]

_md: MarkdownIt | None = None
_md_lock = threading.Lock()
# Rendered once when the parser is built, so that linkify compiles its patterns
# (about 10 ms) and Pygments loads its Python lexer (about 40 ms) then, not in a
# reply: the live throttle would take that one-off cost as every redraw's.
_WARM_UP = ("# a\n\n- *b* `c` https://example.com [d](https://example.com)\n\n| e |\n|---|\n| f |\n\n"
            "```python\nx = 1\n```\n")


def _markdown() -> MarkdownIt:
    """The shared parser, built on first use (markdown-it is imported only then)."""
    global _md
    if _md is None:
        with _md_lock:
            if _md is None:
                from markdown_it import MarkdownIt

                from .highlight import highlight

                md = MarkdownIt("js-default", {"linkify": True, "highlight": highlight}).enable("linkify")
                md.add_render_rule("link_open", _open_link_in_new_tab)
                md.add_render_rule("fence", _fence)
                md.render(_WARM_UP)
                _md = md
    return _md


def _open_link_in_new_tab(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict,
                          env: EnvType) -> str:
    tokens[idx].attrSet("target", "_blank")
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _fence(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """Colour a fence once it is closed: until then it is redrawn on every update, and colouring
    it each time would slow a long block's updates tenfold."""
    if not _closed(tokens[idx]):
        from markdown_it.utils import OptionsDict

        from .highlight import uncoloured

        options = OptionsDict(cast("OptionsType", {**options, "highlight": uncoloured}))
    return self.fence(tokens, idx, options, env)


def _closed(fence: Token) -> bool:
    """Whether the fence's closing line came: its lines are the opening, the code and the closing."""
    code = fence.content
    lines = code.count("\n") + (1 if code and not code.endswith("\n") else 0)
    return fence.map is not None and fence.map[1] - fence.map[0] == lines + 2


def warm_up() -> None:
    """Build the parser on a thread while a request is in flight, not on the reply's first token."""
    if _md is None:
        threading.Thread(target=_markdown, name="mistral-magic-warm-up", daemon=True).start()


def render_html(markdown: str) -> str:
    """Render untrusted Markdown to HTML that carries no script."""
    return _markdown().render(markdown)  # type: ignore[no-any-return]


@dataclass
class Thinking:
    """A reasoning model's thinking, shown folded above its answer; ``seconds`` is None while it goes on."""

    text: str
    seconds: float | None = None
    renderer: IncrementalHTML | None = None

    @property
    def summary(self) -> str:
        return "Thinking…" if self.seconds is None else f"Thought for {self.seconds:.1f} s"

    def html_parts(self) -> list[str]:
        rendered = self.renderer.parts(self.text) if self.renderer is not None else [render_html(self.text)]
        return ['<details class="mistral-thinking"><summary style="color:#888;cursor:pointer">',
                html.escape(self.summary), '</summary><div style="color:#888;border-left:2px solid #8884;'
                'padding-left:0.75em">', *rendered, "</div></details>"]


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a reply, in order, as (language, code)."""
    return [(token.info.strip().split(" ")[0].lower(), token.content)
            for token in _markdown().parse(markdown) if token.type == "fence"]


def bundle(markdown: str, *, lead: str = "", notice: str = "", footer: str = "",
           renderer: IncrementalHTML | None = None, thinking: Thinking | None = None) -> dict[str, str]:
    """The MIME bundle of a reply: rendered HTML, its Markdown, and the Markdown as plain text.

    A live output passes its ``renderer`` so that only the open tail is rendered
    again. Thinking is in the HTML only, folded: the answer alone is the reply.
    """
    rendered = renderer.parts(markdown) if renderer is not None else [render_html(markdown)]
    # One join: at the end of a long reply each copy of the HTML costs more than rendering.
    body = ['<div class="mistral-reply">']
    text = markdown
    if lead:
        body.append(f'<div class="mistral-lead" style="color:#888;font-size:0.85em">{html.escape(lead)}</div>')
        text = f"{lead}\n\n{markdown}"
    body += [*(thinking.html_parts() if thinking else ()), *rendered]
    if notice:
        body.append(f'<div class="mistral-notice" style="color:#b45309">⚠ {html.escape(notice)}</div>')
        text += f"\n\n⚠ {notice}"
    if footer:
        body.append(f'<div class="mistral-footer" style="color:#888;font-size:0.85em">{html.escape(footer)}</div>')
        text += f"\n\n— {footer}"
    body.append("</div>")
    return {"text/html": "".join(body), "text/markdown": text, "text/plain": text}


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

    def _parse(self, tail: str) -> tuple[list[Token], dict[str, Any]] | None:
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


def _last_cut(tail: str, tokens: list[Token]) -> tuple[int, int] | None:
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
