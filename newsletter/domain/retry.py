"""When to try again, as pure arithmetic: exponential backoff and the server's Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = timedelta(days=7)
# Doubling a delay this often passes the largest timedelta, so any cap is reached: more
# doublings would only build a bigger integer.
_MAX_DOUBLINGS = 80
_MICROSECOND = timedelta(microseconds=1)


def exponential_backoff(
    step: int,
    first: timedelta,
    cap: timedelta,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> timedelta:
    """``first`` at step 0, doubling with each step, at most ``cap``; with ``jitter`` (a
    fraction) the result is scaled by a random factor in 1 ± jitter, so that many retries
    that failed together do not all come back at the same moment."""
    doubled = (first // _MICROSECOND) << min(max(0, step), _MAX_DOUBLINGS)
    delay = timedelta(microseconds=min(doubled, cap // _MICROSECOND))
    if jitter:
        uniform = rng.uniform if rng is not None else random.uniform
        delay *= 1 + uniform(-jitter, jitter)
    return delay


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (RFC 9110 §10.2.3: seconds or an HTTP date) as a delay from now,
    between zero and MAX_RETRY_AFTER; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # Nine digits are over thirty years; longer strings are not worth converting.
        delay = timedelta(seconds=int(value)) if len(value) <= 9 else MAX_RETRY_AFTER
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # RFC 9110 §5.6.7: HTTP dates are GMT
        delay = when - now
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))
