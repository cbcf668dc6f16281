"""The sampling parameters of the chat API, in one table, and how magic options are read.

The table drives the ``%%mistral`` flags, the ``MistralMagics`` traits and the
request body, so a parameter is added in one place. Names are the API's own:
snake case in traits and JSON, kebab case in flags.
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass
from typing import Any

import traitlets
from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

__all__ = ["PARAMETERS", "Parameter", "chat_flag", "parse_line"]


@dataclass(frozen=True)
class Parameter:
    """One numeric API parameter with its allowed range."""

    name: str
    type: type
    help: str
    short: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def flags(self) -> list[str]:
        long = "--" + self.name.replace("_", "-")
        return [self.short, long] if self.short else [long]

    def parse(self, text: str) -> Any:
        """Read a flag's value, refusing what the API would refuse."""
        try:
            value = self.type(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {self._kind}") from None
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise argparse.ArgumentTypeError(f"{text} is outside {self._range}")
        return value

    def trait(self) -> traitlets.TraitType[Any, Any]:
        """A configurable trait; None means "not sent", so the model's default applies."""
        cls = traitlets.Float if self.type is float else traitlets.Int
        bounds = {k: v for k, v in (("min", self.minimum), ("max", self.maximum)) if v is not None}
        return cls(None, allow_none=True, help=f"{self.help} None: not sent.", **bounds).tag(
            config=True
        )

    @property
    def _kind(self) -> str:
        return "a number" if self.type is float else "a whole number"

    @property
    def _range(self) -> str:
        if self.maximum is None:
            return f"the allowed range (at least {self.minimum:g})"
        return f"the allowed range {self.minimum:g} to {self.maximum:g}"


PARAMETERS = (
    Parameter("temperature", float, "Sampling temperature, 0 to 1.5; lower is more focused.",
              "-t", 0, 1.5),
    Parameter("top_p", float, "Nucleus sampling: sample from this much probability mass, 0 to 1.",
              None, 0, 1),
    Parameter("max_tokens", int, "Most tokens the reply may have.", None, 0),
    Parameter("random_seed", int, "Seed for reproducible sampling.", None, 0),
    Parameter("presence_penalty", float, "Penalise tokens already present, -2 to 2.", None, -2, 2),
    Parameter("frequency_penalty", float, "Penalise frequent tokens, -2 to 2.", None, -2, 2),
)


def parse_line(magic: Any, line: str) -> Any:
    """Read a magic's options as a shell would: ``--stop "THE END"`` means ``THE END``."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the options ({exc}): check the quotes.") from None
    return magic.parser.parse_args(words)


def chat_flag(default: str | None = "default") -> Any:
    """The ``-c/--chat NAME`` option every magic that acts on a conversation takes."""
    return argument("-c", "--chat", default=default, metavar="NAME",
                    help="Named conversation (default: %(default)s).")
