"""Checks of what a person sets or pastes: keys, URLs, model and variable names.

Each check runs before anything is sent, so a pasted key with a newline or a
URL without a scheme is one line saying what is wrong, never a library
traceback that quotes the value. Nothing here imports IPython or httpx.
"""

from __future__ import annotations

import keyword
import unicodedata
from urllib.parse import unquote, urlsplit, urlunsplit

from .errors import ConfigError

__all__ = [
    "api_key",
    "base_url",
    "environment_variable",
    "model_name",
    "redact_url",
    "variable_name",
    "without_credentials",
]

_NAMED = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", " ": "a space"}


def api_key(raw: str, source: str) -> str:
    """The key with surrounding whitespace removed; refused, unseen, if it still cannot be sent."""
    key = raw.strip()
    problem = _unsendable(key)
    if problem:
        raise ConfigError(f"{source} {problem}: a key is one line of ASCII letters, digits and "
                          "symbols. Set it again, copying only the key.")
    return key


def _unsendable(text: str) -> str | None:
    """Which character (by kind and 1-based position, not by value) stops ``text`` being one word."""
    for position, char in enumerate(text, 1):
        if char in _NAMED:
            kind = _NAMED[char]
        elif not char.isascii():
            kind = f"a non-ASCII character ({_describe(char)})"
        elif not char.isprintable():
            kind = f"a control character (U+{ord(char):04X})"
        else:
            continue
        return f"contains {kind} at position {position} of {len(text)}"
    return None


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


def base_url(url: str, setting: str = "MistralMagics.base_url") -> str:
    """An http(s) URL with a host, as given; refused in one line naming the setting."""
    shown = redact_url(url)
    if url != url.strip() or any(char.isspace() for char in url):
        raise ConfigError(f"{setting} {shown!r} contains whitespace: give the URL alone, "
                          "such as https://api.mistral.ai.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (reading it checks it)
    except ValueError as exc:
        raise ConfigError(f"{setting} {shown!r} is not a URL ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{setting} {shown!r} is not an http(s) URL with a host: "
                          "write it in full, such as https://api.mistral.ai or http://localhost:8000.")
    return url


def without_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without ``user:password@``, and the pair, so they travel as a header, not in logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    host = parts.netloc.rpartition("@")[2]
    credentials = (unquote(parts.username or ""), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=host)), credentials


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***``, for every message and repr."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def model_name(name: str, setting: str = "MistralMagics.model") -> str:
    """A model name is a non-empty word: an empty or spaced name would reach the API as given."""
    if not name:
        raise ConfigError(f"{setting} is empty: name a model, such as mistral-small-latest.")
    problem = None if name.startswith("local:") else _unsendable(name)  # paths may have spaces
    if problem:
        raise ConfigError(f"{setting} {name!r} {problem}: name a model, such as mistral-small-latest.")
    return name


def environment_variable(name: str, setting: str = "MistralMagics.api_key_env") -> str:
    """The name of the variable the key is read from: one word, as a shell would export it."""
    if not name or _unsendable(name) or "=" in name:
        raise ConfigError(f"{setting} {name!r} is not an environment variable name: "
                          "use one word, such as MISTRAL_API_KEY.")
    return name


def variable_name(name: str, flag: str = "-o") -> str:
    """A name a reply can be stored under and read back: a Python identifier, not a keyword."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"{flag} {name!r} is not a variable name: use letters, digits and _, "
                         "not starting with a digit, and not a Python keyword.")
    return name


def count_at_least(text: str, flag: str, minimum: str) -> int:
    """A whole number no smaller than ``minimum``: a --context budget, requests in flight."""
    if not text.isdigit() or int(text) < int(minimum):
        raise ConfigError(f"{flag} {text!r} is not a whole number of at least {minimum}.")
    return int(text)
