"""The CLI's one error boundary and shared options: NewsletterError becomes one `error:` line."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from newsletter.config import load_settings
from newsletter.errors import NewsletterError
from newsletter.service.app import App, open_app

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn NewsletterError into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NewsletterError as exc:
            fail(str(exc).replace("[", "\\["))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def config_option(func: F) -> F:
    """--config PATH on every command."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="feeds.yaml to use (default: $NEWSLETTER_CONFIG, else ./feeds.yaml).",
    )(func)


def period_options(func: F) -> F:
    """--week / --as-of."""
    func = click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="Build the issue that was next to go on this date (YYYY-MM-DD).",
    )(func)
    return click.option(
        "--week",
        default=None,
        metavar="YYYY-Www",
        help="ISO week of the issue, e.g. 2026-W48, or a special issue's label, e.g. "
        "special-2026-asco (default: see the command's description).",
    )(func)


def progress() -> Progress:
    """A progress bar on standard error that disappears when the work is done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    )


def load_app(config_path: Path | None, **overrides: Any) -> App:
    settings = load_settings(**overrides)
    return open_app(settings, config_path)


def as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


def at_least_info() -> None:
    """Long-running commands (run, worker, serve) log at INFO even when the base level is higher."""
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger().setLevel(logging.INFO)


def stop_on_signals(*, second_exits: bool) -> threading.Event:
    """An event set by the first SIGTERM or SIGINT, so that long work stops between steps and
    never in the middle of one (a database write, a message on the wire).

    With ``second_exits``, a second signal ends the process at once: one `error:` line, exit
    code 130, no cleanup (what the step in hand had not written is lost; a database rolls an
    open transaction back). Without it, later signals only repeat the request to stop."""
    stop = threading.Event()
    received = 0

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal received
        received += 1
        if received > 1 and second_exits:
            err.print("[bold red]error:[/] interrupted again; stopping at once", markup=True)
            err.file.flush()
            os._exit(130)
        # Set from another thread: the handler runs in the main thread, which may be inside
        # stop.wait() holding the event's (non-reentrant) lock; setting it here would deadlock.
        threading.Thread(target=stop.set, name="stop-signal", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop
