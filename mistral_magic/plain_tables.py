"""The Markdown that magics show, as a terminal should print it: pipe tables as aligned columns.

``%mistral_models``, ``%mistral_usage``, ``%mistral_history`` and the others build
Markdown for a notebook to render; printed as written, a terminal would show its
pipes and asterisks. Only what they write is converted (pipe tables, bold,
emphasis and inline code); code blocks and anything else pass through as written.
"""

from __future__ import annotations

import re

__all__ = ["plain_text"]

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_RULE = re.compile(r"\|(?:\s*:?-+:?\s*\|)+")  # the line under a table's header
_CELL = re.compile(r"(?<!\\)\|")  # a pipe between cells; an escaped one is text
_MARKED = re.compile(r"(?<!`)(?P<ticks>`+)(?!`)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
                     r"|(?<![*\w])(?P<stars>\*\*?)(?![\s*])(?P<text>.+?)(?<![\s*])(?P=stars)(?![*\w])")


def plain_text(markdown: str) -> str:
    """``markdown`` with pipe tables as columns padded with spaces, and no marks of bold, emphasis or code."""
    shown: list[str] = []
    rows: list[str] = []  # the run of pipe rows being read
    fence = ""  # the fence of the code block open, if any
    for line in markdown.split("\n"):
        if not fence and _is_row(line):
            rows.append(line)
            continue
        shown += _table(rows)
        rows = []
        after = _fence_after(fence, line)
        shown.append(line if fence or after else _unmarked(line))
        fence = after
    return "\n".join(shown + _table(rows))


def _is_row(line: str) -> bool:
    text = line.strip()
    return len(text) > 1 and text[0] == text[-1] == "|"


def _fence_after(fence: str, line: str) -> str:
    """The fence of the code block open after ``line``, given the one open before it ("" for none)."""
    marks = _FENCE.match(line)
    if not fence:
        return marks.group(1) if marks else ""
    closes = (marks is not None and marks.group(1)[0] == fence[0] and len(marks.group(1)) >= len(fence)
              and not line[marks.end():].strip())
    return "" if closes else fence


def _table(rows: list[str]) -> list[str]:
    """A header, a rule of dashes and the rows, in columns; pipe rows that are no table (no rule) as they are."""
    if len(rows) < 2 or not _RULE.fullmatch(rows[1].strip()):
        return [_unmarked(row) for row in rows]
    cells = [[_unmarked(cell.strip().replace("\\|", "|")) for cell in _CELL.split(row.strip()[1:-1])]
             for row in [rows[0], *rows[2:]]]
    widths = [max(len(row[column]) for row in cells if column < len(row))
              for column in range(max(map(len, cells)))]
    lines = [[cell.ljust(width) for cell, width in zip(row, widths)] for row in cells]
    lines.insert(1, ["-" * width for width in widths])
    return ["  ".join(line).rstrip() for line in lines]


def _unmarked(text: str) -> str:
    """``text`` without the marks of bold, emphasis and inline code; a code span's content stays as written."""
    return _MARKED.sub(_content, text)


def _content(match: re.Match[str]) -> str:
    code = match.group("code")
    if code is None:
        return _unmarked(match.group("text"))
    return code[1:-1] if code[0] == code[-1] == " " and code.strip() else code  # the padding code_span adds
