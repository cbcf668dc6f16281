"""Conversations: turns keyed by the cell that made them, named per kernel.

A notebook is re-run often, so a turn remembers its cell: re-running the cell
sends only what came before its turn and then replaces the turn in place.
Turns are committed only when a reply completes, so a failed or interrupted
reply never leaves half a turn behind.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

from .images import placeholder
from .protocol import Message, content_shown
from .tool_lines import shown_reply

__all__ = ["FORMAT", "Conversation", "ConversationStore", "Turn", "count"]

FORMAT = "mistral_magic/conversation/1"  # saved files say what they are and which version


@dataclass
class Turn:
    """A user message and everything the assistant answered to it."""

    messages: list[Message]
    cell_id: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    created: float = field(default_factory=time.time)
    params: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    thinking: str = ""  # a reasoning model's thinking: shown folded, never sent back
    thought_for: float | None = None

    @property
    def prompt(self) -> str:
        """The user's message as text, an image as a short placeholder (never its base64)."""
        return content_shown(self.messages[0].get("content"), placeholder)

    @property
    def reply(self) -> str:
        content = self.messages[-1].get("content") if self.messages[-1]["role"] == "assistant" else ""
        return content if isinstance(content, str) else ""


class Conversation:
    """An optional system message and an ordered list of turns.

    Observers are told after each change, so every view of a conversation (a
    cell's history, one or more panels) stays in step wherever the change came from.
    """

    def __init__(self, name: str = "default", system: str | None = None) -> None:
        self.name = name
        self._system = system
        self.turns: list[Turn] = []
        self._lock = threading.RLock()
        self._observers: list[Callable[[Conversation], None]] = []

    def __repr__(self) -> str:
        return f"Conversation({self.name!r}, {len(self.turns)} turns)"

    def __len__(self) -> int:
        return len(self.turns)

    @property
    def system(self) -> str | None:
        return self._system

    @system.setter
    def system(self, text: str | None) -> None:
        self._system = text
        self._changed()

    def observe(self, callback: Callable[[Conversation], None]) -> Callable[[], None]:
        """Call ``callback`` after every change, on the changing thread; return what stops it."""
        self._observers.append(callback)
        return functools.partial(self._observers.remove, callback)

    def messages(self, before_cell: str | None = None, *, turns: bool = True) -> list[Message]:
        """The history to send: system, then every turn before ``before_cell``'s own."""
        with self._lock:
            kept = self.turns[: self._index(before_cell)] if turns else []
            history: list[Message] = [{"role": "system", "content": self.system}] if self.system else []
            for turn in kept:
                history.extend(turn.messages)
            return history

    def commit(self, turn: Turn) -> int:
        """Add ``turn``, or replace the turn its cell made before; return its index."""
        with self._lock:
            index = self._index(turn.cell_id) if turn.cell_id else len(self.turns)
            self.turns[index:index + 1] = [turn]
        self._changed()
        return index

    def undo(self) -> Turn | None:
        """Drop and return the last turn."""
        with self._lock:
            turn = self.turns.pop() if self.turns else None
        self._changed()
        return turn

    def clear(self, *, keep_system: bool = False) -> None:
        with self._lock:
            self.turns.clear()
            if not keep_system:
                self._system = None
        self._changed()

    def to_markdown(self) -> str:
        """A readable transcript, turns numbered from 1, each tool call on a line with its result."""
        with self._lock:
            parts = [f"**Conversation '{self.name}'** ({count(len(self.turns), 'turn')})"]
            if self.system:
                parts.append(f"**system**\n\n{self.system}")
            for number, turn in enumerate(self.turns, 1):
                parts.append(f"**[{number}] user**\n\n{turn.prompt}")
                if len(turn.messages) > 1:  # tool calls and their results read as the cell showed them
                    parts.append(f"**[{number}] assistant**\n\n{shown_reply(turn.messages[1:])}")
            return "\n\n".join(parts)

    def tokens(self) -> tuple[int, int]:
        """Tokens in and out over every turn, as the API counted them."""
        with self._lock:
            usages = [turn.usage or {} for turn in self.turns]
        return (sum(u.get("prompt_tokens") or 0 for u in usages),
                sum(u.get("completion_tokens") or 0 for u in usages))

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to restore the conversation, as plain JSON data."""
        with self._lock:
            return {"format": FORMAT, "name": self.name, "system": self.system,
                    "turns": [asdict(t) for t in self.turns]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        conversation = cls(data.get("name", "default"))
        conversation.restore(data)
        return conversation

    def restore(self, data: dict[str, Any], *, turns: int | None = None) -> None:
        """Take the system message and the first ``turns`` turns of ``to_dict`` data."""
        known = {f.name for f in fields(Turn)}
        kept = [Turn(**{k: v for k, v in turn.items() if k in known}) for turn in data.get("turns", [])]
        with self._lock:
            self._system = data.get("system")
            self.turns = kept[:turns]
        self._changed()

    def _changed(self) -> None:
        # Outside the lock, so an observer that takes locks of its own cannot deadlock a writer.
        for callback in list(self._observers):
            callback(self)

    def _index(self, cell_id: str | None) -> int:
        """Where ``cell_id``'s turn is, or the end when it has none."""
        for index, turn in enumerate(self.turns):
            if cell_id and turn.cell_id == cell_id:
                return index
        return len(self.turns)


def count(number: int, noun: str) -> str:
    """``1 turn``, ``2 turns``, ``1,000 rows``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class ConversationStore:
    """The kernel's named conversations, made on first use."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> Conversation:
        with self._lock:
            if name not in self._conversations:
                self._conversations[name] = Conversation(name)
            return self._conversations[name]

    def __contains__(self, name: object) -> bool:
        return name in self._conversations

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._conversations))

    def __len__(self) -> int:
        return len(self._conversations)
