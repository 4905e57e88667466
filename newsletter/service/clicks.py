"""The click redirect: which stored link a token names, and counting the click.

Only URLs stored as links of an issue (``Link`` rows, made when sending of the issue starts) are ever
redirected to, and only http(s) ones: the redirect cannot be pointed anywhere else. Who clicked
is kept only with NEWSLETTER_CLICK_TRACK_SUBSCRIBERS and a valid subscriber token.

Finding the target is a read, which SQLite answers while another process writes; counting is a
write, which can wait (a long import) or fail (a full disk). So the count never holds up the
redirect: clicks go to a ClickCounter, which writes them after the answer has gone, and keeps
them queued (in memory, up to a bound) while the database cannot take them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from dataclasses import dataclass

from newsletter.email.links import is_countable
from newsletter.errors import DatabaseUnavailableError, NewsletterError
from newsletter.service.app import App
from newsletter.storage.db import Engine, available_session
from newsletter.storage.models import utcnow
from newsletter.storage.queries import links, subscribers
from newsletter.storage.queries.links import ClickRecord

log = logging.getLogger(__name__)

_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")
_SUBSCRIBER_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_QUEUED_CLICKS = 10_000  # about 1 MB; past it the oldest queued clicks are dropped (logged)


class UnknownLinkError(NewsletterError):
    """No link of any issue has this token, or its target is not an http(s) URL."""


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """Where a click token leads, and the click to count (None when tracking is off)."""

    url: str
    click: ClickRecord | None


def follow_link(app: App, token: str, subscriber_token: str | None = None) -> LinkTarget:
    """The target of a click token and the click to count (when click tracking is on); only
    reads. UnknownLinkError for an unknown token or a target that is not http(s);
    DatabaseUnavailableError when the database cannot even be read."""
    if not _LINK_TOKEN.fullmatch(token):
        raise UnknownLinkError("unknown link")
    with available_session(app.engine) as session:
        link = links.link_by_token(session, token)
        if link is None or link.id is None or not is_countable(link.url):
            raise UnknownLinkError("unknown link")
        if not app.settings.click_tracking:
            return LinkTarget(link.url, None)
        subscriber_id = None
        if (
            app.settings.click_track_subscribers
            and subscriber_token
            and _SUBSCRIBER_TOKEN.fullmatch(subscriber_token)
        ):
            subscriber_id = subscribers.subscriber_id_by_token(session, subscriber_token)
        return LinkTarget(link.url, ClickRecord(link.id, link.issue_id, subscriber_id, utcnow()))


class ClickCounter:
    """Clicks waiting to be written, and the one writer that writes them.

    ``add`` never touches the database. ``flush`` (run after each redirect has been answered,
    and when the app stops) writes everything queued in one transaction; while the database
    cannot take it (locked past the busy timeout, disk full, read-only) the clicks stay queued
    for the next flush, and the state change is logged once. Only one thread writes at a time:
    others leave their clicks to it, so a burst of clicks is one write, not one writer each.
    The queue is per process and in memory: at most MAX_QUEUED_CLICKS are kept (older ones are
    dropped, with a log line), and what is still queued when the process stops is logged as lost.
    """

    def __init__(self, engine: Engine, max_queued: int = MAX_QUEUED_CLICKS) -> None:
        self._engine = engine
        self._max = max_queued
        self._queue: deque[ClickRecord] = deque()
        self._lock = threading.Lock()  # guards the queue
        self._writing = threading.Lock()  # one flush at a time
        self._failing = False
        self.dropped = 0

    def add(self, click: ClickRecord) -> None:
        """Queue a click (no I/O)."""
        with self._lock:
            if len(self._queue) >= self._max:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.warning(
                        "click counts: %d queued clicks dropped so far (the database has not "
                        "taken writes for a while)",
                        self.dropped,
                    )
            self._queue.append(click)

    @property
    def queued(self) -> int:
        """How many clicks wait to be written."""
        with self._lock:
            return len(self._queue)

    def flush(self) -> bool:
        """Write the queued clicks; False when they stay queued (the database cannot take them
        now). When another thread is writing, it writes these too."""
        while True:
            if not self._writing.acquire(blocking=False):
                return False  # the writing thread loops until the queue is empty
            try:
                written = self._drain()
            finally:
                self._writing.release()
            # A click queued just as the writer finished would wait for the next flush.
            if not written or not self.queued:
                return written

    def _drain(self) -> bool:
        while True:
            with self._lock:
                batch = list(self._queue)
                self._queue.clear()
            if not batch:
                return True
            try:
                with available_session(self._engine) as session:
                    links.record_clicks(session, batch)
            except DatabaseUnavailableError as exc:
                with self._lock:
                    self._queue.extendleft(reversed(batch))
                    while len(self._queue) > self._max:
                        self._queue.popleft()
                        self.dropped += 1
                if not self._failing:
                    log.warning("click counts queued, not written: %s", exc)
                    self._failing = True
                return False
            if self._failing:
                log.info("click counts written again (%d were queued)", len(batch))
                self._failing = False

    def close(self) -> None:
        """A last flush when the app stops; clicks it cannot write are logged as lost."""
        self.flush()
        left = self.queued
        if left:
            log.warning("click counts: %d queued clicks not written before stopping", left)


__all__ = ["ClickCounter", "LinkTarget", "UnknownLinkError", "follow_link"]
