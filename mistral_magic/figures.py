"""The figure ``--image plt`` sends: the one the user just saw.

matplotlib's inline backend closes every figure once it has shown it, so the
figure must be caught as it is displayed. :class:`FigureMemory` is a display
formatter of a MIME type of its own: IPython hands it every figure shown (by
the inline backend, ``display(fig)`` or a cell's last value), it keeps the
last, and by returning None it adds nothing to the output. matplotlib is
never imported here.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from IPython.core.formatters import BaseFormatter
from traitlets import Unicode

__all__ = ["FigureMemory"]


class FigureMemory(BaseFormatter):
    """Keeps the last matplotlib figure the notebook displayed, adding nothing to its output."""

    format_type = Unicode("application/x-mistral-magic-figure")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shown: Any = None

    def __call__(self, obj: Any) -> None:
        """Keep ``obj`` if it is a figure. Not a registered printer: ``%matplotlib`` resets those."""
        figure_module = sys.modules.get("matplotlib.figure")
        if figure_module is not None and isinstance(obj, figure_module.Figure):
            self.shown = obj

    def last_figure(self) -> Any:
        """The figure open now (terminal backends keep them open), else the last one shown."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None and pyplot.get_fignums():
            current = pyplot.gcf()  # a figure exists, so this creates none
            if current.axes:
                return current
        if self.shown is None:
            raise ValueError("--image plt: no figure has been shown yet; plot one in a cell first.")
        return self.shown

    def install(self, formatters: dict[str, Any]) -> Callable[[], None]:
        """Start watching ``formatters`` (a shell's display formatters); return what stops it."""
        formatters[self.format_type] = self
        return lambda: formatters.pop(self.format_type, None)
