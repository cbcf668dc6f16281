"""Text quoted as Markdown code, so that nothing in it can end the quote early.

Tool arguments, tool results and request bodies hold text from the model and
the user; shown inside code they must stay code, whatever backticks they carry.
"""

from __future__ import annotations

import re

__all__ = ["code_block", "code_span"]


def code_span(text: str) -> str:
    """Inline code showing ``text`` verbatim (line breaks become spaces, as in any code span)."""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    # The renderer drops one space inside each end, so padding keeps an edge backtick or space as is.
    pad = " " if not text or text[0] in "` " or text[-1] in "` " else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def code_block(text: str, language: str = "") -> str:
    """A fenced block showing ``text`` verbatim."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)
