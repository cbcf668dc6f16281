"""When to try a request again: transient statuses and failed connections, never after content.

Backoff grows by ``exponent`` (doubles) from ``initial`` up to ``cap`` with jitter (so many clients
hitting one limit spread out), honours ``Retry-After``, and stops after
``retries`` extra attempts or when the next wait would pass ``max_total``.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

from .backend import OnStatus
from .errors import APIStatusError

__all__ = ["RETRYABLE", "RETRY_STATUSES", "Attempts", "Pace", "RetryPolicy"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE = (APIStatusError, httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    max_total: float = 60.0
    initial: float = 0.5
    cap: float = 8.0
    exponent: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based), with jitter."""
        return min(self.cap, self.initial * self.exponent ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass
class Attempts:
    """The attempts of one request: decides on each failure whether to wait or give up."""

    policy: RetryPolicy
    on_status: OnStatus = None
    done: int = 1
    started: float = field(default_factory=time.monotonic)

    def wait_after(self, failure: Exception) -> float:
        """Seconds to wait before trying again; re-raise ``failure`` when it is final."""
        if isinstance(failure, APIStatusError):
            if failure.status not in RETRY_STATUSES:
                raise failure
            reason, wait = f"{failure.status} {HTTPStatus(failure.status).phrase}", failure.retry_after
        else:
            reason, wait = f"could not connect ({str(failure) or type(failure).__name__})", None
        if wait is None:
            wait = self.policy.backoff(self.done)
        if self.done > self.policy.retries or time.monotonic() - self.started + wait > self.policy.max_total:
            raise failure
        self.done += 1
        if self.on_status is not None:
            self.on_status(f"{reason}: retrying in {wait:.1f} s "
                          f"(attempt {self.done} of {self.policy.retries + 1}; interrupt to stop)")
        return wait



class Pace:
    """When the requests of one job (``--over``'s rows) may go out.

    A rate limit answers the key, not one request: when any of them is told to
    wait (a 429, or any ``Retry-After``), every request of the job waits as long
    before it is sent, rather than each finding the limit for itself.
    """

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def hold(self, failure: Exception, seconds: float) -> None:
        """After ``failure``, hold the job back ``seconds`` if the server asked everyone to slow down."""
        if isinstance(failure, APIStatusError) and (failure.status == 429 or failure.retry_after is not None):
            with self._lock:
                self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Sleep until the job may send again."""
        with self._lock:
            delay = self._until - time.monotonic()
        if delay > 0:
            time.sleep(delay)
