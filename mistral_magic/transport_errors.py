"""What a failed request means to a person: httpx's transport errors as ours, in one line each."""

from __future__ import annotations

import httpx

from .errors import APIConnectionError, APITimeoutError, ConfigError, MistralError

__all__ = ["transport_error"]


def transport_error(exc: BaseException, base_url: str, timeout: httpx.Timeout) -> MistralError:
    """The error a person sees for a transport failure, naming the URL (as shown) and what to do."""
    reason = str(exc).split("\n")[0] or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return APITimeoutError(f"could not connect to {base_url} within "
                               f"{timeout.connect:g} s. Check the network, or raise "
                               "MistralMagics.connect_timeout.")
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"no data from {base_url} for {timeout.read:g} s. "
                               "Raise MistralMagics.read_timeout or re-run the cell.")
    if isinstance(exc, httpx.ConnectError):
        return APIConnectionError(f"could not connect to {base_url} ({reason}). "
                                  "Check the network and MistralMagics.base_url.")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
        return APIConnectionError(f"the connection to {base_url} dropped mid-reply "
                                  f"({reason}). Re-run the cell.")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.LocalProtocolError,
                        UnicodeError)):
        return ConfigError(f"the request to {base_url} could not be made ({reason}). "
                           "Check MistralMagics.base_url and the key.")
    return APIConnectionError(f"the request to {base_url} failed ({reason}). Check the "
                              "network and MistralMagics.base_url, then re-run the cell.")
