"""What every call to a vendor (Slack, Jira, GitHub, ...) shares: how it fails, and how it is
retried.

Each integration translates its client library's exceptions into these few errors, so the
outbox, the tasks and the flows decide the same way whatever the vendor:

* :class:`CredentialError`: 401/403, a refused login. Retrying cannot help; the message
  names the credential to fix.
* :class:`RateLimitedError`: 429. Retried after the vendor's ``Retry-After``.
* :class:`TransientVendorError`: 5xx, a timeout, a refused or dropped connection. Retried with
  exponential backoff and jitter.
* :class:`RejectedRequestError`: any other 4xx. The same request fails the same way.

Example:
    >>> calls = []
    >>> def flaky():
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise TransientVendorError("slack", "HTTP 503")
    ...     return "ok"
    >>> with_retries(flaky, RetryPolicy(attempts=3), sleep=lambda _s: None)
    'ok'
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class VendorError(Exception):
    """A call to ``vendor`` failed. ``retryable`` tells whether trying again can succeed."""

    retryable = False

    def __init__(self, vendor: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor
        self.retry_after = retry_after


class CredentialError(VendorError):
    """The vendor refused the credential (401/403): fix the named credential, then retry."""


class RejectedRequestError(VendorError):
    """The vendor refused the request itself (a 4xx other than 401/403/429)."""


class RateLimitedError(VendorError):
    """The vendor asked us to slow down (429); ``retry_after`` is its wait in seconds."""

    retryable = True


class TransientVendorError(VendorError):
    """A failure the next attempt may not meet: 5xx, a timeout, a connection error."""

    retryable = True


def error_for_status(
    vendor: str,
    status: int,
    detail: str,
    *,
    credential: str,
    retry_after: float | None = None,
) -> VendorError:
    """The error an HTTP ``status`` means, for vendors whose clients expose the status.

    Args:
        vendor: Which vendor answered (``"jira"``).
        status: The HTTP status code (4xx or 5xx).
        detail: What the vendor said, for the message.
        credential: What to fix on a 401/403, e.g. ``"the Jira credentials block 'jira'"``.
        retry_after: The ``Retry-After`` of a 429 (or 503), in seconds.

    Example:
        >>> error_for_status("jira", 401, "Unauthorized", credential="block 'jira'")
        CredentialError("jira: HTTP 401 Unauthorized: check block 'jira'")
    """
    if status in (401, 403):
        return CredentialError(vendor, f"HTTP {status} {detail}: check {credential}")
    if status == 429:
        return RateLimitedError(vendor, f"HTTP 429 {detail}", retry_after=retry_after)
    if status >= 500:
        return TransientVendorError(vendor, f"HTTP {status} {detail}", retry_after=retry_after)
    return RejectedRequestError(vendor, f"HTTP {status} {detail}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds (the form vendors use for 429);
    ``None`` when absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a vendor call.

    Attributes:
        attempts: Tries in all, the first included.
        base_seconds: Backoff before the second try; doubled for each further one.
        max_seconds: No single wait is longer; a ``Retry-After`` longer than this is not
            waited for in-process: the error is raised, and the caller (the outbox) comes back
            later.
        jitter: Fraction of each backoff drawn at random, so retries of many workers spread.
    """

    attempts: int = 3
    base_seconds: float = 1.0
    max_seconds: float = 30.0
    jitter: float = 0.5

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (retry - 1))
        draw = (rng or random).random()
        return ceiling * (1 - self.jitter * draw)

    def wait_for(self, error: VendorError, retry: int, rng: random.Random | None = None) -> float:
        """How long to wait after ``error`` before retry number ``retry``.

        The vendor's ``Retry-After`` wins over the backoff: waiting less only earns another
        429.
        """
        if error.retry_after is not None:
            return error.retry_after
        return self.backoff(retry, rng)


#: Notifications and tickets: a few quick tries in-process; the outbox retries later anyway.
DEFAULT_POLICY = RetryPolicy()


def with_retries(
    call: Callable[[], T],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run ``call``, retrying only retryable :class:`VendorError`\\ s as ``policy`` allows.

    Raises:
        VendorError: a non-retryable error at once; a retryable one after the last attempt,
            or when the vendor asks for a longer wait than ``policy.max_seconds``.
    """
    retry = 0
    while True:
        try:
            return call()
        except VendorError as error:
            retry += 1
            if not error.retryable or retry >= policy.attempts:
                raise
            wait = policy.wait_for(error, retry, rng)
            if wait > policy.max_seconds:
                raise
            sleep(wait)


def create_once(
    create: Callable[[], T],
    landed: Callable[[], T | None],
    policy: RetryPolicy = DEFAULT_POLICY,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``create`` with retries, where each retry first asks ``landed`` whether an earlier try
    was carried out although its answer never came (a timeout, a dropped connection), so a
    retried create never makes a twin where the vendor lets us look.

    Example:
        >>> made = []
        >>> def create():
        ...     made.append("issue")
        ...     if len(made) == 1:
        ...         raise TransientVendorError("linear", "timed out")  # it landed anyway
        ...     return "second"
        >>> create_once(create, lambda: made and "first", sleep=lambda _s: None)
        'first'
    """
    tries = 0

    def attempt() -> T:
        nonlocal tries
        tries += 1
        if tries > 1 and (found := landed()) is not None:
            return found
        return create()

    return with_retries(attempt, policy, sleep=sleep)
