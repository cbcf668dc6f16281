"""When to try a request again: transient statuses and failed connections, never after content.

Backoff doubles from ``initial`` up to ``cap`` with jitter (so many clients
hitting one limit spread out), honours ``Retry-After``, and stops after
``retries`` extra attempts or when the next wait would pass ``max_total``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from http import HTTPStatus

import httpx

from .backend import OnStatus
from .errors import APIStatusError

__all__ = ["RETRYABLE", "RETRY_STATUSES", "Attempts", "RetryPolicy"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE = (APIStatusError, httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 4
    max_total: float = 60.0
    initial: float = 0.5
    cap: float = 8.0

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1-based), with jitter."""
        return min(self.cap, self.initial * 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


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

