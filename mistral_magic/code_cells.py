"""``--code``: the code a reply wrote, put where the user runs code.

In JupyterLab and Notebook 7 that is a new cell below, made the way IPython's
``set_next_input`` makes one; in a terminal the code is printed alone, to copy.
"""

from __future__ import annotations

from typing import Any

from .render import code_blocks

__all__ = ["hand_over", "last_code"]

_PYTHON = frozenset({"python", "py", "python3", "ipython", "ipython3", "pycon"})


def last_code(markdown: str) -> str | None:
    """The reply's last fenced block marked Python, else its last fenced block; None without one."""
    blocks = code_blocks(markdown)
    python = [code for language, code in blocks if language in _PYTHON]
    chosen = python or [code for _, code in blocks]
    return chosen[-1].rstrip("\n") if chosen else None


def hand_over(shell: Any, code: str | None, *, notebook: bool) -> None:
    """Put ``code`` in a new cell below (a notebook), or print it for copying (a terminal)."""
    if code is None:
        print("The reply has no code block: no cell was added.")
    elif notebook:
        shell.set_next_input(code, replace=False)
    else:
        print(f"Code from the reply, to copy:\n\n{code}\n")
