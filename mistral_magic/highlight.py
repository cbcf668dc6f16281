"""Fenced code in a reply, coloured by Pygments into HTML that needs no stylesheet.

A notebook output keeps its HTML, but no stylesheet or script travels with it to
every frontend and into an nbconvert export, so each colour is an inline
``style``. The block sets its own background and text colour and the token
colours are chosen against that background, so code reads the same on a light
or a dark theme. Pygments escapes the code (or :func:`html.escape` does, when no
lexer knows the language), and the language only picks one of Pygments' own
lexers, so hostile code stays text. Pygments is imported for the first fence, not
with the package.
"""

from __future__ import annotations

import functools
import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

__all__ = ["highlight", "uncoloured"]

# Dark; its keywords, names, strings, numbers and comments have at least 7:1 contrast with its background.
_STYLE = "native"


def highlight(code: str, language: str, attributes: str = "") -> str:
    """markdown-it's ``highlight`` hook: what goes inside a fence's ``<code>``, in a box with its own colours.

    Code in a language no lexer knows is only escaped, in the same box, so all code looks alike.
    """
    lexer = _lexer(language.lower()) if language else None
    if lexer is None:
        return uncoloured(code, language)
    return f'<span style="{_box_style()}">{_coloured(code, lexer)}</span>'


def uncoloured(code: str, language: str, attributes: str = "") -> str:
    """The same box, escaped and not coloured: for a fence still streaming, redrawn on every update."""
    return f'<span style="{_box_style()}">{html.escape(code, quote=False)}</span>'


@functools.lru_cache(maxsize=64)
def _lexer(language: str) -> Lexer | None:
    """One of Pygments' own lexers, remembered: finding it scans them all and may import its module."""
    if language not in _languages():
        return None
    from pygments.lexers import get_lexer_by_name

    return get_lexer_by_name(language, stripnl=False)  # blank lines at either end are code too


@functools.cache
def _languages() -> frozenset[str]:
    """The names Pygments' own lexers answer to.

    Not plugins: looking for one scans every installed package (about 0.1 s) and
    imports whatever code they declare, on a word the model chose.
    """
    from pygments.lexers import get_all_lexers

    return frozenset(alias for _, aliases, _, _ in get_all_lexers(plugins=False) for alias in aliases)


def _coloured(code: str, lexer: Lexer) -> str:
    from pygments import highlight as format_tokens

    coloured: str = format_tokens(code, lexer, _formatter())
    # Lexing and formatting end the last line with a newline: keep it only if the code has one.
    return coloured if code.endswith("\n") else coloured[:-1]


@functools.cache
def _formatter() -> HtmlFormatter:
    """Spans with inline styles, and none for text in the box's own colour."""
    from pygments.formatters import HtmlFormatter
    from pygments.styles import get_style_by_name
    from pygments.token import Error, Token, Whitespace

    base = get_style_by_name(_STYLE)
    # Error marks text the lexer could not read, often a half-streamed line or a placeholder:
    # not worth a red patch.
    plain = {Token: "", Whitespace: "", Error: ""}
    style = type("ReplyStyle", (base,), {"styles": {**base.styles, **plain}})
    return HtmlFormatter(style=style, nowrap=True, noclasses=True)


@functools.cache
def _box_style() -> str:
    from pygments.styles import get_style_by_name
    from pygments.token import Token

    style = get_style_by_name(_STYLE)
    return (f"display:block;overflow-x:auto;margin:0.5em 0;padding:0.6em 0.8em;border-radius:4px;"
            f"background:{style.background_color};color:#{style.style_for_token(Token)['color']}")
