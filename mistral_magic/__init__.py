"""Chat with Mistral models from Jupyter: ``%load_ext mistral_magic``, then ``%%mistral``.

The same machinery is a Python API: ``from mistral_magic import Mistral`` for
code written against Mistral's own client, ``MistralClient`` and
``Conversation`` for more control. Modules that pull in httpx or markdown-it
load on first use, so loading the extension stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .conversation import Conversation, ConversationStore, Turn
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    MistralError,
    ReplyInterrupted,
    ReplyValidationError,
    StreamError,
    ToolLoopError,
)
from .version import __version__

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .api import Mistral
    from .client import MistralClient
    from .dataset import over
    from .panel import ChatPanel
    from .render import render_html


__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ChatPanel",
    "ConfigError",
    "Conversation",
    "ConversationStore",
    "Mistral",
    "MistralClient",
    "MistralError",
    "ReplyInterrupted",
    "ReplyValidationError",
    "StreamError",
    "ToolLoopError",
    "Turn",
    "__version__",
    "load_ipython_extension",
    "over",
    "render_html",
    "unload_ipython_extension",
]

_LAZY = {"ChatPanel": "panel", "Mistral": "api", "MistralClient": "client", "over": "dataset",
         "render_html": "render"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics and the hooks that tell them which cell is running."""
    from traitlets import TraitError

    from .conversation_magics import ConversationMagics
    from .magics import MistralMagics

    try:
        magics = MistralMagics(ipython)
    except TraitError as exc:  # a bad value in ipython_config.py: one line, not traitlets' traceback
        raise ConfigError(f"{exc} (set in the IPython configuration)") from None
    ipython.register_magics(magics, ConversationMagics(ipython, magics.store, magics.show_markdown,
                                                       lambda: magics.prices))
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Undo everything loading did, closing connections; conversations are dropped."""
    from .conversation_magics import ConversationMagics
    from .magics import MistralMagics

    registry = ipython.magics_manager.registry
    magics = registry.get(MistralMagics.__name__)
    if magics is None:
        return
    ipython.events.unregister("pre_run_cell", magics.pre_run_cell)
    ipython.events.unregister("post_run_cell", magics.post_run_cell)
    for instance in (registry.pop(MistralMagics.__name__), registry.pop(ConversationMagics.__name__)):
        for kind, names in instance.magics.items():
            for name in names:
                ipython.magics_manager.magics[kind].pop(name, None)
        if instance in ipython.configurables:
            ipython.configurables.remove(instance)
    magics.detach()
