"""Retrying a lost database: backoff until it answers, logged once when it goes and once back."""

from __future__ import annotations

import logging
import threading

import pytest

from newsletter.errors import DatabaseUnavailableError
from newsletter.service.outages import Outage, retry_database


def test_an_outage_is_retried_and_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("the database")
    failures = iter([True, True, True, False, False])

    def call() -> str:
        if next(failures):
            raise DatabaseUnavailableError("connection refused")
        return "row"

    caplog.set_level(logging.INFO, logger="newsletter.worker")
    stop = threading.Event()
    assert retry_database(call, outage, stop, first=0.01, longest=0.02) == "row"
    assert retry_database(call, outage, stop, first=0.01) == "row"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0] == ("the database is unreachable, retrying with backoff: connection refused")
    assert lines[1].startswith("the database answers again after ")
    assert not outage.is_down


def test_a_stopped_process_stops_retrying_with_what_happens_to_its_claims() -> None:
    stop = threading.Event()
    stop.set()

    def call() -> str:
        raise DatabaseUnavailableError("the database did not answer while claiming deliveries")

    with pytest.raises(DatabaseUnavailableError) as caught:
        retry_database(call, Outage("the database"), stop, first=0.01)
    assert "NEWSLETTER_SENDER_STALE_SECONDS" in str(caught.value)
    assert "while claiming deliveries" in str(caught.value)
