"""``--vars``: fill ``{name}`` in a prompt from the user's variables.

Braces stay literal unless a cell asks for this, so code in a prompt never
breaks. Only plain names are filled: ``{df.shape}`` or ``{rows[0]}`` would run
attribute and item lookups on arbitrary objects while a prompt is built, and a
prompt is text, not code; compute the value in a cell and give it a name.
``{{`` and ``}}`` are literal braces, as in ``str.format``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

__all__ = ["MissingFields", "fill"]

_ESCAPES = "write {{ and }} for literal braces"


class MissingFields(ValueError):
    """The template names fields the values do not have; ``names`` lists them."""

    def __init__(self, message: str, names: list[str]) -> None:
        super().__init__(message)
        self.names = names


def fill(template: str, namespace: Mapping[str, Any]) -> str:
    """Replace each ``{name}`` with ``str(namespace[name])``, naming every problem at once."""
    pieces = _pieces(template)
    fields = [field for _, field in pieces if field is not None]
    not_names = _unique(field for field in fields if not field.isidentifier())
    if not_names:
        shown = ", ".join("{" + field + "}" for field in not_names)
        raise ValueError(f"--vars fills plain names only, not {shown}: put the value in a variable "
                         f"first (a prompt is text, not code), or {_ESCAPES}.")
    missing = _unique(field for field in fields if field not in namespace)
    if missing:
        raise MissingFields(f"--vars: no variable named {', '.join(missing)}. Define "
                            f"{'it' if len(missing) == 1 else 'them'} in a cell first, or {_ESCAPES}.", missing)
    return "".join(text + ("" if field is None else str(namespace[field])) for text, field in pieces)


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """Literal text and the field after it; a field written with ``!r`` or ``:spec`` is refused."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"--vars cannot read the cell ({exc}): {_ESCAPES}.") from None
    pieces: list[tuple[str, str | None]] = []
    for text, field, spec, conversion in parsed:
        if field is not None and (spec or conversion):
            field = f"{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}"
        pieces.append((text, field))
    return pieces


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))
