"""Riding out a lost database or mail server: retry with backoff, log once per state change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from newsletter.errors import DatabaseUnavailableError

log = logging.getLogger("newsletter.worker")

T = TypeVar("T")

DATABASE_OUTAGE_SECONDS = (
    300.0  # a sender gives up (and says so) after this long without a database
)


class Outage:
    """Whether one dependency (the database, the mail server) answers, in one process: the
    change to "lost" and back to "answers" is logged once, however many threads notice it."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._since: float | None = None

    @property
    def is_down(self) -> bool:
        """Whether the last attempt failed."""
        return self._since is not None

    def lost(self, detail: str) -> None:
        """Note a failure; logged only when it was answering before."""
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        # One line: drivers put hints on lines of their own.
        log.warning(
            "%s is unreachable, retrying with backoff: %s", self.what, " ".join(detail.split())
        )

    def restored(self) -> None:
        """Note a success; logged only when it was down before."""
        if self._since is None:  # the hot path: no lock while all is well
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("%s answers again after %.0f s", self.what, time.monotonic() - since)


def retry_database(
    call: Callable[[], T],
    outage: Outage,
    stop: threading.Event,
    *,
    first: float = 0.25,
    longest: float = 5.0,
    give_up_after: float = DATABASE_OUTAGE_SECONDS,
) -> T:
    """``call()`` until it does not raise DatabaseUnavailableError, waiting ``first`` seconds
    and twice as long each time up to ``longest``. Raises the last error when ``stop`` is set
    or the database has not answered for ``give_up_after`` seconds."""
    delay, started = first, time.monotonic()
    while True:
        try:
            result = call()
        except DatabaseUnavailableError as exc:
            outage.lost(str(exc))
            waited = time.monotonic() - started
            if stop.is_set() or waited > give_up_after:
                raise DatabaseUnavailableError(
                    f"{exc} (no answer for {waited:.0f} s; the deliveries this process holds go "
                    "to the next sender once its heartbeat is older than "
                    "NEWSLETTER_SENDER_STALE_SECONDS)"
                ) from exc
            stop.wait(delay)
            delay = min(delay * 2, longest)
            continue
        outage.restored()
        return result
