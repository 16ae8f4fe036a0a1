"""Retry with exponential backoff and full jitter, shared by every provider.

Providers classify a cloud error as retryable (throttling, 429, 5xx,
transient network failures) with a predicate; :func:`call_with_retries`
retries those a bounded number of times within a bounded total delay, then
raises :class:`snoozebot.sdk.Throttled` carrying the last error's message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from snoozebot.sdk import Throttled

__all__ = ["RetryPolicy", "call_with_retries"]

T = TypeVar("T")
IsRetryable = Callable[[BaseException], bool]
"""Tells whether an exception is worth retrying."""
CloudCode = Callable[[BaseException], str | None]
"""Extracts the cloud's error code from an exception, for the final Throttled."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``attempts`` in all, delays ``base * 2**n`` capped, with full jitter."""

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds before retry number ``retry`` (0-based), uniformly jittered."""
        cap = min(self.max_delay, self.base_delay * 2**retry)
        return (rng or random).uniform(0, cap)


def call_with_retries(
    fn: Callable[[], T],
    *,
    is_retryable: IsRetryable,
    policy: RetryPolicy | None = None,
    cloud_code: CloudCode | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; retry retryable failures per ``policy``; raise Throttled when they persist."""
    policy = policy or RetryPolicy()
    for retry in range(policy.attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            if retry == policy.attempts - 1:
                code = cloud_code(exc) if cloud_code else None
                raise Throttled(
                    f"still throttled or failing after {policy.attempts} attempts: {exc}", cloud_code=code
                ) from exc
            sleep(policy.delay(retry))
    raise AssertionError("unreachable")  # pragma: no cover
