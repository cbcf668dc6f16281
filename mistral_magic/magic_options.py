"""How the parameter table becomes ``%%mistral`` flags and ``MistralMagics`` traits, and how lines are read.

:mod:`.params` says what the options are; this is their IPython side: argparse
flags, configurable traits, and checks that refuse a bad value in one line.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
from typing import Any, Callable

import traitlets
from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument

from .errors import ConfigError
from .params import PARAMETERS

__all__ = ["SettingError", "api_flags", "chat_flag", "flag_type", "parse_line", "setting_check",
           "several", "traits"]


def parse_line(magic: Any, line: str) -> argparse.Namespace:
    """Read a magic's options as a shell would: ``--stop "THE END"`` means ``THE END``; a misspelt one is named."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read the options ({exc}): check the quotes.") from None
    parser: argparse.ArgumentParser = magic.parser
    args, unknown = parser.parse_known_args(words)
    if unknown:
        raise UsageError(f"unrecognized arguments: {' '.join(unknown)}{_suggestion(parser, unknown)}")
    return args


def _suggestion(parser: argparse.ArgumentParser, unknown: list[str]) -> str:
    """`` (did you mean --temperature?)`` for the unknown long options near a known one, else nothing.

    Names are compared without the ``--`` they all share, which would make ``--bogus`` near ``--out``.
    """
    names = [option[2:] for action in parser._actions for option in action.option_strings if option.startswith("--")]
    near = [f"--{match}" for word in unknown if word.startswith("--")
            for match in difflib.get_close_matches(word[2:].partition("=")[0], names, n=1)]
    return f" (did you mean {', '.join(near)}?)" if near else ""


def chat_flag(default: str | None = "default") -> Any:
    """The ``-c/--chat NAME`` option every magic that acts on a conversation takes."""
    return argument("-c", "--chat", default=default, metavar="NAME",
                    help="Named conversation (default: %(default)s).")


def api_flags(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add one flag per parameter of the table, named as in the API."""
    for parameter in reversed(PARAMETERS):
        if parameter.type is bool:
            flag = argument(*parameter.flags, action="store_true", default=None, help=parameter.help)
        elif parameter.choices:
            flag = argument(*parameter.flags, choices=parameter.choices, metavar="LEVEL",
                            help=f"{parameter.help} One of {', '.join(parameter.choices)}.")
        elif parameter.type is str:
            flag = argument(*parameter.flags, action="append", metavar="TEXT",
                            help=f"{parameter.help} Repeat for several.")
        else:
            flag = argument(*parameter.flags, type=several(flag_type(parameter.read)), metavar="VALUE",
                            help=parameter.help)
        func = flag(func)
    return func


def traits() -> dict[str, traitlets.TraitType[Any, Any]]:
    """One configurable trait per parameter; for numbers None means "not sent", so the model's default applies."""
    made: dict[str, traitlets.TraitType[Any, Any]] = {}
    for parameter in PARAMETERS:
        trait: traitlets.TraitType[Any, Any]
        if parameter.type is bool:
            trait = traitlets.Bool(False, help=f"{parameter.help} Sent with every request when True.")
        elif parameter.choices:
            trait = traitlets.Enum(parameter.choices, None, allow_none=True, help=f"{parameter.help} None: not sent.")
        elif parameter.type is str:
            trait = traitlets.List(traitlets.Unicode(), help=f"{parameter.help} A list, sent with every request.")
        else:
            kind = traitlets.Float if parameter.type is float else traitlets.Int
            limits = (("min", parameter.minimum), ("max", parameter.maximum))
            bounds: dict[str, Any] = {key: value for key, value in limits if value is not None}
            trait = kind(None, allow_none=True, help=f"{parameter.help} None: not sent.", **bounds)
        made[parameter.name] = trait.tag(config=True)
    return made


def several(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Read ``a,b`` as a tuple of values, for --compare; a single value as itself."""
    def read(text: str) -> Any:
        parts = [part.strip() for part in text.split(",")]
        if len(parts) == 1:
            return parse(text)
        if not all(parts):
            raise argparse.ArgumentTypeError(f"{text!r} has an empty value between commas")
        return tuple(parse(part) for part in parts)
    return read


def flag_type(check: Callable[..., Any], *args: str) -> Callable[[str], Any]:
    """An argparse type from ``check(text, *args)``, so its message reaches the user as the usage error."""
    def read(text: str) -> Any:
        try:
            return check(text, *args)
        except (ConfigError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return read


class SettingError(ConfigError, traitlets.TraitError):
    """A bad ``%config`` value: one line, and traitlets keeps the previous value."""


def setting_check(check: Callable[[str, str], str], name: str) -> Any:
    """A trait validator that refuses through ``check``, naming ``MistralMagics.<name>``."""
    def validator(self: Any, proposal: Any) -> str:
        try:
            return check(proposal["value"], f"MistralMagics.{name}")
        except ConfigError as exc:
            raise SettingError(str(exc)) from None
    return traitlets.validate(name)(validator)
