"""newsletter.domain.retry: exponential backoff with a cap and jitter (the delivery retries'
numbers; the feed polls' backoff is tested with ingest in tests/service/test_feed_health.py)."""

from __future__ import annotations

import random
from datetime import timedelta

from newsletter.domain.retry import exponential_backoff

FIRST = timedelta(minutes=5)  # NEWSLETTER_RETRY_FIRST_MINUTES
CAP = timedelta(minutes=240)  # NEWSLETTER_RETRY_MAX_MINUTES


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    first = [exponential_backoff(0, FIRST, CAP, 0.2, rng) for _ in range(200)]
    assert all(timedelta(minutes=4) <= d <= timedelta(minutes=6) for d in first)
    assert len({d.total_seconds() for d in first}) > 100  # jitter spreads the retries
    assert exponential_backoff(2, FIRST, CAP, 0.0, rng) == timedelta(minutes=20)
    assert exponential_backoff(19, FIRST, CAP, 0.0, rng) == timedelta(minutes=240)


def test_many_steps_reach_the_cap_without_overflow() -> None:
    assert exponential_backoff(10**6, FIRST, CAP) == CAP
    assert exponential_backoff(-3, FIRST, CAP) == FIRST
