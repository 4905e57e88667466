"""The delivery worker's loop: send what is due, wait, look again; a lost database or mail
server is retried with backoff and logged once when it goes and once when it comes back."""

from __future__ import annotations

import logging
import threading

from newsletter.errors import DatabaseUnavailableError, MailError
from newsletter.service.app import App
from newsletter.service.outages import Outage
from newsletter.service.sending import SendReport, work_once
from newsletter.storage.db import outage_as_error

log = logging.getLogger("newsletter.worker")

OUTAGE_WAIT_SECONDS = (
    30.0  # the longest wait between tries while the mail system or database is down
)
FIRST_RETRY_SECONDS = 2.0  # the first wait; it doubles up to OUTAGE_WAIT_SECONDS


def _worth_logging(report: SendReport) -> bool:
    # A pass that only found retries waiting for their time has nothing to say.
    return bool(report.sent or report.failed or report.deferred or report.skipped_subscribers)


def run_worker(
    app: App,
    stop: threading.Event,
    *,
    connections: int | None = None,
    once: bool = False,
    poll_seconds: float = 5.0,
) -> int:
    """Claim, send and record the deliveries of every issue being sent until ``stop`` is set
    (or once, with ``once``); returns how many messages were sent.

    When the mail system is down the deliveries stay queued and the worker looks again after
    2, 4, 8, ... up to OUTAGE_WAIT_SECONDS (with ``once`` the MailError is raised instead).
    When the database does not answer the worker waits the same way, also with ``once``: it
    finishes its work when the database is back."""
    total = 0
    database, mail = Outage("the database"), Outage("the mail server")
    backoff = FIRST_RETRY_SECONDS
    while not stop.is_set():
        try:
            with outage_as_error("looking for issues to send"):
                reports = work_once(app, stop, connections=connections, db_outage=database)
        except DatabaseUnavailableError as exc:
            database.lost(str(exc))
            if once and stop.is_set():
                raise
            stop.wait(backoff)
            backoff = min(backoff * 2, OUTAGE_WAIT_SECONDS)
            continue
        except MailError as exc:
            mail.lost(str(exc))
            if once:
                raise
            stop.wait(max(poll_seconds, backoff))
            backoff = min(backoff * 2, OUTAGE_WAIT_SECONDS)
            continue
        database.restored()
        if any(r.sent for r in reports):
            mail.restored()
        backoff = FIRST_RETRY_SECONDS
        for report in reports:
            if not _worth_logging(report):
                continue
            total += report.sent
            log.info(
                "issue %s: %d sent, %d failed, %d deferred, %d skipped; %s",
                report.period,
                report.sent,
                report.failed,
                report.deferred,
                report.skipped_subscribers,
                report.reason or report.status,
            )
        if once:
            break
        stop.wait(poll_seconds)
    return total
