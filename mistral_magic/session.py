"""The kernel's loaded extension, as the front ends that are not magics see it.

A ``ChatPanel`` made from Python, and the extension's unloading, find the
kernel's conversations, backend and settings here; they need not import the
magics (which import them), so the module graph has no cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .backend import Backend
    from .conversation import ConversationStore

__all__ = ["MAGICS", "Session", "loaded"]

MAGICS = "MistralMagics"  # IPython files magics under their class name


class Session(Protocol):
    """What the loaded ``MistralMagics`` shares: the conversations, the backend, the settings."""

    store: ConversationStore
    client: Backend
    model: str
    update_interval: float

    def close(self) -> None: ...


def loaded(shell: InteractiveShell | None = None) -> Session | None:
    """The session of ``shell`` (the running IPython if not given), if ``%load_ext mistral_magic`` ran."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return None
    return cast("Session | None", shell.magics_manager.registry.get(MAGICS))
