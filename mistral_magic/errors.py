"""Errors raised by mistral_magic, each shown in a notebook as one line.

    MistralError
    ├── ConfigError          missing key, bad setting: fix before retrying
    ├── APIStatusError       the API answered with an error status
    ├── APIConnectionError   no answer: refused, DNS, dropped connection
    │   └── APITimeoutError  no data within the configured timeout
    ├── StreamError          the reply stream broke its own protocol
    ├── ReplyInterrupted     the user stopped the reply (Ctrl-C, Stop)
    ├── ReplyValidationError the reply is not the JSON a --schema asks for
    └── ToolLoopError        the model kept calling tools past the last round

Library users catch ``MistralError``. In IPython every one renders through
``_render_traceback_`` as ``Name: message``; ``%tb`` shows the same line, and
the cause stays on ``__cause__`` for code that wants it.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ConfigError",
    "MistralError",
    "ReplyInterrupted",
    "ReplyValidationError",
    "StreamError",
    "ToolLoopError",
    "one_line",
]


def one_line(exc: BaseException) -> str:
    """``Name: message`` on one line: how every failure is shown to a person."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


class MistralError(Exception):
    """Base class: a message a person can act on."""

    def _render_traceback_(self) -> list[str]:
        return [one_line(self)]


class ConfigError(MistralError):
    """A setting is missing or invalid; nothing was sent."""


class APIStatusError(MistralError):
    """The API answered with a non-2xx status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        error_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.retry_after = retry_after


class APIConnectionError(MistralError):
    """The server could not be reached, or the connection broke."""


class APITimeoutError(APIConnectionError):
    """The server sent nothing within the timeout."""


class StreamError(MistralError):
    """The event stream carried something that is not a Mistral chunk."""


class ReplyInterrupted(MistralError):
    """The user interrupted the reply; what arrived is kept on screen only."""


class ReplyValidationError(MistralError):
    """The reply does not match the schema it was asked for; its text is kept."""

    def __init__(self, message: str, *, text: str) -> None:
        super().__init__(message)
        self.text = text


class ToolLoopError(MistralError):
    """The model still asked for tools after the last round allowed."""
