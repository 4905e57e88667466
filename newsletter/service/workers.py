"""The delivery worker's loop: send what is due, wait, look again; an SMTP outage waits longer."""

from __future__ import annotations

import logging
import threading

from newsletter.errors import MailError
from newsletter.service.app import App
from newsletter.service.sending import SendReport, work_once

log = logging.getLogger("newsletter.worker")

OUTAGE_WAIT_SECONDS = 30.0  # the least wait after the mail system refused to connect


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
    at least OUTAGE_WAIT_SECONDS; with ``once`` the MailError is raised instead."""
    total = 0
    while not stop.is_set():
        try:
            reports = work_once(app, stop, connections=connections)
        except MailError as exc:
            log.error("%s", exc)
            if once:
                raise
            stop.wait(max(poll_seconds, OUTAGE_WAIT_SECONDS))
            continue
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
