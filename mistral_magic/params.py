"""The chat API's request options in one table, the defaults, and how settings meet a call's own options.

A parameter is named only here: the ``%%mistral`` flags and the
``MistralMagics`` traits are generated from the table (:mod:`.magic_options`),
and :func:`request_options` is the one place where settings (traits, a
panel's controls) and per-call overrides (flags, keyword arguments) become
the options of a request, for the magic, the panel and the Python API alike.
Names are the API's own: snake case in traits and JSON, kebab case in flags.
Nothing here imports IPython or httpx.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BASE_URL_VARIABLE",
    "COMPARABLE",
    "CONTEXT_BUDGET",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "KEY_VARIABLE",
    "PARAMETERS",
    "SMALLEST_CONTEXT_BUDGET",
    "Parameter",
    "base_url",
    "request_options",
    "settings_of",
]

DEFAULT_MODEL = "mistral-small-latest"
DEFAULT_BASE_URL = "https://api.mistral.ai"
BASE_URL_VARIABLE = "MISTRAL_BASE_URL"
KEY_VARIABLE = "MISTRAL_API_KEY"  # where the key is read from, unless configured otherwise
CONTEXT_BUDGET = 4000  # characters a --context block may take, fences and label included
SMALLEST_CONTEXT_BUDGET = 300  # room for a label, the fences and the line that says the rest was cut


@dataclass(frozen=True)
class Parameter:
    """One request option: numbers with the range the API allows, stop texts, or a switch."""

    name: str
    type: type  # float or int: a number; str: texts, the flag repeated, or one of ``choices``; bool: a switch
    help: str
    short: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        """Numbers take a range, and ``--compare`` can try several."""
        return self.type in (int, float)

    @property
    def flags(self) -> list[str]:
        long = "--" + self.name.replace("_", "-")
        return [self.short, long] if self.short else [long]

    def read(self, text: str) -> Any:
        """A number as a flag gives it, refusing what the API would refuse (``ValueError`` says why)."""
        try:
            value = self.type(text)
        except ValueError:
            kind = "a number" if self.type is float else "a whole number"
            raise ValueError(f"{text!r} is not {kind}") from None
        if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum):
            raise ValueError(f"{text} is outside {self.range}")
        return value

    @property
    def range(self) -> str:
        if self.maximum is None:
            return f"the allowed range (at least {self.minimum:g})"
        return f"the allowed range {self.minimum:g} to {self.maximum:g}"

    def sent(self, value: Any) -> Any:
        """A set value as the body carries it: a switch as ``true``, stop texts as a list of their own."""
        if self.type is bool:
            return True
        if self.type is str and not self.choices and not isinstance(value, str):
            return list(value)
        return value

    def given(self, value: Any) -> bool:
        """Whether ``value`` sets the option: ``0`` does; None, an unset switch and no stop texts don't."""
        return value is not None and value is not False and value != [] and value != ()


PARAMETERS = (
    Parameter("temperature", float, "Sampling temperature, 0 to 1.5; lower is more focused.",
              "-t", 0, 1.5),
    Parameter("top_p", float, "Nucleus sampling: sample from this much probability mass, 0 to 1.",
              None, 0, 1),
    Parameter("max_tokens", int, "Most tokens the reply may have.", None, 0),
    Parameter("random_seed", int, "Seed for reproducible sampling.", None, 0),
    Parameter("presence_penalty", float, "Penalise tokens already present, -2 to 2.", None, -2, 2),
    Parameter("frequency_penalty", float, "Penalise frequent tokens, -2 to 2.", None, -2, 2),
    Parameter("stop", str, "Stop sequence: the reply ends before it."),
    Parameter("safe_prompt", bool, "Prepend Mistral's safety system prompt."),
    Parameter("reasoning_effort", str, "How hard a reasoning model thinks before it answers ('none' for "
              "not at all); the thinking shows folded above the answer.",
              choices=("none", "minimal", "low", "medium", "high", "xhigh")),
)


COMPARABLE = tuple(parameter.name for parameter in PARAMETERS if parameter.numeric)
"""The parameters ``--compare`` can give several values, as ``-t 0,0.7``."""


def request_options(settings: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The options of one request: each parameter from ``overrides`` when it sets it, else from ``settings``.

    Options outside the table (tools, response format) pass through, the
    call's own winning. What is None is not sent, so the model's default applies.
    """
    options = {**settings, **overrides}
    for parameter in PARAMETERS:
        value = next((value for value in (overrides.get(parameter.name), settings.get(parameter.name))
                      if parameter.given(value)), None)
        options[parameter.name] = None if value is None else parameter.sent(value)
    return options


def settings_of(source: object) -> dict[str, Any]:
    """The table's parameters as ``source`` (the magics' traits) sets them."""
    return {parameter.name: getattr(source, parameter.name) for parameter in PARAMETERS}


def base_url(given: str | None = None) -> tuple[str, str]:
    """The API root to use, and what to name when it is wrong: ``given``, else ``$MISTRAL_BASE_URL``, else Mistral's."""
    from_environment = os.environ.get(BASE_URL_VARIABLE)
    url = given or from_environment or DEFAULT_BASE_URL
    return url, BASE_URL_VARIABLE if url == from_environment else "the base URL"
