"""The CLI's one error boundary and shared options: every failure becomes one `error:` line
(NewsletterError and OSError saying what to fix; an unexpected error as an internal error,
exit code 70, its traceback only under --debug)."""

from __future__ import annotations

import contextlib
import errno
import faulthandler
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import click

from newsletter.cli import startup
from newsletter.config import Settings, load_settings
from newsletter.errors import NewsletterError
from newsletter.service.app import App, open_app

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class _LazyConsole:
    """A rich Console made when the command first prints: rich is then imported after
    `newsletter ingest`'s requests are out, not before them (docs/performance.md)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None
        self._making = threading.Lock()

    def made(self) -> Console:
        """The Console itself: one, whichever thread prints first (its lock keeps lines whole)."""
        console = self._console
        if console is None:
            with self._making:
                if self._console is None:
                    from rich.console import Console

                    self._console = Console(**self._options)
                console = self._console
        return console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)


out = cast("Console", _LazyConsole(highlight=False, soft_wrap=True))
err = cast("Console", _LazyConsole(stderr=True, highlight=False, soft_wrap=True))


SETTINGS_KEY = "newsletter.settings"  # click context meta: the settings the group read
INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h): a bug, not something the user can fix
DEBUG_VARIABLE = "NEWSLETTER_DEBUG"


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {_escaped(message)}", markup=True)
    sys.exit(code)


def _escaped(message: str) -> str:
    """``message`` as rich shows it literally: feed text and paths may hold [brackets] and
    backslashes (``\\[/x]`` must not close a tag)."""
    from rich.markup import escape

    return escape(message)


def is_debug() -> bool:
    """Whether an unexpected error should show its traceback: ``newsletter --debug`` or
    NEWSLETTER_DEBUG=1 (read from the environment: the settings may be what failed)."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().meta.get("newsletter.debug"):
        return True
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def os_error_message(exc: OSError) -> str:
    """An OSError as the user needs it: the path (or paths) and what the system said."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    if exc.errno == errno.ENOSPC and paths:
        return (
            f"the disk holding {paths[0]} is full ({reason}): free space and run the command again"
        )
    if exc.errno == errno.ENOSPC:
        # No path: a file written without its name in the error, or the command's own output
        # redirected to a full disk or device (a database's full disk is DatabaseFullError).
        return (
            f"no space left on the device being written ({reason}): free space (or send the "
            "command's output elsewhere) and run the command again"
        )
    if paths:
        return f"{' -> '.join(paths)}: {reason}"
    return reason


def report_failure(exc: Exception) -> None:
    """The one error line (and exit code) for an exception a command did not handle:
    NewsletterError and OSError say what to fix (exit 1); anything else is a bug, exit 70,
    with its traceback only under --debug / NEWSLETTER_DEBUG=1."""
    if isinstance(exc, NewsletterError):
        fail(str(exc))
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        raise exc  # the reader of our output went away (`| head`): click exits quietly
    if isinstance(exc, OSError):
        log.debug("OSError", exc_info=exc)
        fail(os_error_message(exc))
    if is_debug():
        raise exc
    fail(
        f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
        f"(a bug; run with --debug or {DEBUG_VARIABLE}=1 for the traceback)",
        INTERNAL_ERROR,
    )


# click's own ways out of a command: usage errors, --help, confirm prompts answered no.
CLICK_EXITS = (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort)


def handle_errors(func: F) -> F:
    """Turn whatever a command raises into one line on stderr (see ``report_failure``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CLICK_EXITS:
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:
            report_failure(exc)

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
    """--week / --as-of (one of them: both is a usage error, exit code 2)."""
    inner = func

    @functools.wraps(inner)
    def one_period(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("week") and kwargs.get("as_of"):
            raise click.UsageError("--week and --as-of both name the issue; give one of them")
        return inner(*args, **kwargs)

    func = cast(F, one_period)
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


class ProgressBar(Protocol):
    """What a command uses of rich's Progress (``progress``)."""

    def __enter__(self) -> ProgressBar: ...

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None: ...

    def add_task(self, description: str, *, total: float | None = ...) -> Any: ...

    def advance(self, task_id: Any, /) -> None: ...


class _NoProgress:
    """The progress bar where rich would draw none (standard error is no terminal)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        return None

    def add_task(self, description: str, *, total: float | None = None) -> int:
        return 0

    def advance(self, task_id: Any, /) -> None:
        return None


# Variables with which rich takes a stream that is no TTY for a terminal.
_TERMINAL_VARIABLES = ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE")


def progress() -> ProgressBar:
    """A progress bar on standard error that disappears when the work is done.

    Not drawn when standard error is not a terminal (a cron job, a log file): its refresh
    thread would redraw it ten times a second for nobody. When standard error is certainly
    none (no TTY, none of rich's variables that say otherwise), rich is not even imported."""
    stream = sys.stderr
    is_tty = getattr(stream, "isatty", None)
    try:
        tty = bool(is_tty()) if is_tty is not None else False
    except ValueError:  # closed
        tty = False
    if not tty and not any(os.environ.get(name) is not None for name in _TERMINAL_VARIABLES):
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = cast("_LazyConsole", err).made()
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def load_app(config_path: Path | None, **overrides: Any) -> App:
    """The app of feeds.yaml (or ``config_path``), with the settings the command group already
    read from the environment when there are no overrides (read once per command)."""
    context = click.get_current_context(silent=True)
    read = context.meta.get(SETTINGS_KEY) if context is not None and not overrides else None
    settings = read if isinstance(read, Settings) else load_settings(**overrides)
    app = open_app(settings, config_path)
    startup.end()  # the modules are loaded: the collector's defaults from here on
    return app


def as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


def at_least_info() -> None:
    """Long-running commands (run, worker, serve) log at INFO even when the base level is higher."""
    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger().setLevel(logging.INFO)


# What a progress bar cut off by os._exit leaves to undo on a terminal: its half-drawn line
# (carriage return, erase the line) and its hidden cursor (DECTCEM: show it again).
_TERMINAL_RESET = b"\r\x1b[2K\x1b[?25h"


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


class StopEvent(threading.Event):
    """The event ``stop_on_signals`` returns: ``signalled`` is True from the moment the first
    signal's handler ran (in the main thread), ``handled`` is set once the event is set and
    ``on_first`` has returned (in the thread the handler started)."""

    def __init__(self) -> None:
        super().__init__()
        self.signalled = False
        self.handled = threading.Event()


def stop_on_signals(*, second_exits: bool, on_first: Callable[[], None] | None = None) -> StopEvent:
    """An event set by the first SIGTERM or SIGINT, so that long work stops between steps and
    never in the middle of one (a database write, a message on the wire). ``on_first`` runs
    then, in a thread of its own, after the event is set (to say what the stop waits for).

    With ``second_exits``, a second signal ends the process at once: one `error:` line, exit
    code 130, no cleanup (what the step in hand had not written is lost; a database rolls an
    open transaction back). Without it, later signals only repeat the request to stop."""
    stop = StopEvent()
    received = 0

    def first() -> None:
        try:
            stop.set()
            if on_first is not None:
                on_first()
        finally:
            stop.handled.set()

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal received
        received += 1
        if received > 1 and second_exits:
            # Plain bytes to the descriptor: the handler may run while the main thread is
            # part-way through importing rich (made on the first print), or inside a print.
            with contextlib.suppress(OSError):
                reset = _TERMINAL_RESET if _is_terminal(2) else b""
                os.write(2, reset + b"error: interrupted again; stopping at once\n")
            os._exit(130)
        if received > 1:
            return
        stop.signalled = True
        # Set from another thread: the handler runs in the main thread, which may be inside
        # stop.wait() holding the event's (non-reentrant) lock; setting it here would deadlock.
        threading.Thread(target=first, name="stop-signal", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # `kill -USR1 PID` prints every thread's stack to standard error and goes on: what a
    # process that does not stop is waiting for (docs/operators-guide.md).
    # Not where standard error is no real file (click's test runner): nothing to print to.
    if sys.__stderr__ is not None:
        with contextlib.suppress(AttributeError, ValueError, OSError):
            faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    return stop


@contextlib.contextmanager
def stopping_on_signals(on_first: Callable[[], None]) -> Iterator[threading.Event]:
    """``stop_on_signals(second_exits=True)`` for one step of a command (``newsletter
    ingest``'s poll): the handlers that were there before are put back after it. Outside the
    main thread (a command run from a thread) no handler can be set: the event is never set."""
    if threading.current_thread() is not threading.main_thread():
        yield threading.Event()
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in signals}
    stop = stop_on_signals(second_exits=True, on_first=on_first)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if stop.signalled:
            # A signal in the step's last moments: its thread may not have set the event or
            # said its line yet; the caller reads the event next (and the line must not be
            # printed after the summary, or by a thread while the interpreter shuts down).
            stop.handled.wait(10)
