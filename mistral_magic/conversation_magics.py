"""``%mistral_history`` and the other magics that look after the kernel's conversations.

Show, undo, reset, save, load, export and fork conversations, list them, and
count what they cost. They are given the store the cells and panels share,
how to show Markdown, and the prices as the settings hold them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from .conversation import FORMAT, Conversation, ConversationStore, count
from .magic_options import chat_flag, parse_line
from .prices import cost
from .protocol import shorten

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["ConversationMagics"]

@magics_class
class ConversationMagics(Magics):
    """Look after the conversations that ``%%mistral`` cells and panels hold."""

    def __init__(self, shell: InteractiveShell, store: ConversationStore, show: Callable[[str], None],
                 prices: Callable[[], Mapping[str, Sequence[float]]]) -> None:
        super().__init__(shell=shell)
        self._store = store
        self._show = show
        self._prices = prices

    @magic_arguments()
    @chat_flag()
    @line_magic
    def mistral_history(self, line: str) -> None:
        """Show a conversation's system message and turns, numbered (the numbers %mistral_fork takes)."""
        self._show(self._existing(parse_line(self.mistral_history, line).chat).to_markdown())

    @magic_arguments()
    @chat_flag()
    @line_magic
    def mistral_undo(self, line: str) -> None:
        """Drop the last turn of a conversation."""
        conversation = self._existing(parse_line(self.mistral_undo, line).chat)
        turn = conversation.undo()
        if turn is None:
            print(f"Conversation '{conversation.name}' has no turns to undo.")
        else:
            print(f"Dropped turn {len(conversation) + 1} of '{conversation.name}': "
                  f"{shorten(turn.prompt, 40)!r} ({len(conversation)} left).")

    @magic_arguments()
    @chat_flag()
    @line_magic
    def mistral_reset(self, line: str) -> None:
        """Forget a conversation's turns and system message."""
        conversation = self._existing(parse_line(self.mistral_reset, line).chat)
        dropped = len(conversation)
        conversation.clear()
        print(f"Conversation '{conversation.name}' cleared ({count(dropped, 'turn')} dropped).")

    @magic_arguments()
    @argument("file", help="Where to write the JSON file.")
    @chat_flag()
    @line_magic
    def mistral_save(self, line: str) -> None:
        """Save a conversation as JSON: messages, parameters, model, usage, request ids, times.

        Example::

            %mistral_save lesson.json -c default
        """
        args = parse_line(self.mistral_save, line)
        conversation = self._existing(args.chat)
        _write(args.file, json.dumps(conversation.to_dict(), indent=1, ensure_ascii=False) + "\n")
        print(f"Saved '{conversation.name}' ({count(len(conversation), 'turn')}) to {args.file}.")

    @magic_arguments()
    @argument("file", help="A file written by %%mistral_save.")
    @chat_flag(default=None)
    @line_magic
    def mistral_load(self, line: str) -> None:
        """Load a conversation saved by %mistral_save, as the name it was saved under or -c NAME."""
        args = parse_line(self.mistral_load, line)
        data = _read_saved(args.file)
        conversation = self._store[args.chat or data.get("name") or "default"]
        conversation.restore(data)
        print(f"Loaded {count(len(conversation), 'turn')} into '{conversation.name}' from {args.file}.")

    @magic_arguments()
    @argument("file", help="Where to write the Markdown transcript (FILE.md).")
    @chat_flag()
    @line_magic
    def mistral_export(self, line: str) -> None:
        """Write a conversation as a readable Markdown transcript, for handouts and review."""
        args = parse_line(self.mistral_export, line)
        conversation = self._existing(args.chat)
        _write(args.file, conversation.to_markdown() + "\n")
        print(f"Exported '{conversation.name}' ({count(len(conversation), 'turn')}) to {args.file}.")

    @magic_arguments()
    @argument("new", help="Name of the new conversation.")
    @chat_flag()
    @argument("--at", type=int, metavar="N", help="Keep only the first N turns (default: all).")
    @line_magic
    def mistral_fork(self, line: str) -> None:
        """Start a new conversation from the first N turns of another, to try a different path.

        Example::

            %mistral_fork plan-b --at 2
        """
        args = parse_line(self.mistral_fork, line)
        source = self._existing(args.chat)
        if args.at is not None and not 0 <= args.at <= len(source):
            raise UsageError(f"--at must be between 0 and {len(source)}, the turns of '{source.name}'.")
        if args.new in self._store and len(self._store[args.new]):
            raise UsageError(f"'{args.new}' already has turns: pick another name, or "
                             f"%mistral_reset -c {args.new} first.")
        fork = self._store[args.new]
        fork.restore(source.to_dict(), turns=args.at)
        print(f"'{fork.name}' starts from {count(len(fork), 'turn')} of '{source.name}'. "
              f"Continue it with %%mistral -c {fork.name}.")

    @line_magic
    def mistral_chats(self, line: str) -> None:
        """List the kernel's conversations with their turns and tokens."""
        rows = ["| conversation | turns | tokens in | tokens out | system message |", "|---|---|---|---|---|"]
        for name in sorted(self._store):
            conversation = self._store[name]
            tokens_in, tokens_out = conversation.tokens()
            system = repr(shorten(conversation.system, 40)) if conversation.system else ""
            rows.append(f"| {name} | {len(conversation)} | {tokens_in} | {tokens_out} | {system} |")
        self._show("\n".join(rows) if len(rows) > 2 else "No conversations yet.")

    @line_magic
    def mistral_usage(self, line: str) -> None:
        """Tokens in and out per conversation and for the kernel, with an estimated cost."""
        prices = self._prices()
        unpriced: set[str] = set()
        rows = ["| conversation | turns | tokens in | tokens out | est. cost (USD) |", "|---|---|---|---|---|"]
        totals = [0, 0, 0, 0.0]
        for name in sorted(self._store):
            conversation = self._store[name]
            spent = sum(cost(turn.model or "", turn.usage or {}, prices, unpriced) for turn in conversation.turns)
            tokens_in, tokens_out = conversation.tokens()
            rows.append(f"| {name} | {len(conversation)} | {tokens_in} | {tokens_out} | {spent:.4f} |")
            totals = [totals[0] + len(conversation), totals[1] + tokens_in, totals[2] + tokens_out,
                      totals[3] + spent]
        rows.append(f"| **kernel** | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]:.4f} |")
        note = ("Prices: USD per million tokens from MistralMagics.prices (defaults: Mistral's list "
                "prices in mid-2025; set current ones with %config).")
        if unpriced:
            note += f" No price for {', '.join(sorted(unpriced))}: not counted."
        self._show("\n".join(rows) + f"\n\n*{note}*")

    def _existing(self, name: str) -> Conversation:
        if name not in self._store:
            known = ", ".join(sorted(self._store)) or "none"
            raise UsageError(f"no conversation named '{name}'. Known: {known}.")
        return self._store[name]


def _read_saved(file: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(f"{file} is not a conversation saved by %mistral_save.")
    return data


def _write(file: str, text: str) -> None:
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc}") from None
