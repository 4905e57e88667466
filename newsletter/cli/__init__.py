"""Entry points: the `newsletter` command and the scheduler wiring."""

import contextlib
import errno
import os
import signal
import sys
import threading

from newsletter.cli import exiting, startup


def _interrupted_while_starting(signum: int, frame: object) -> None:
    # Ctrl-C while the command's modules load (a second or so): the line every interrupted
    # command ends with, not a KeyboardInterrupt traceback from inside some import.
    with contextlib.suppress(OSError):  # standard error closed (`2>&-`)
        os.write(2, b"error: interrupted\n")
    os._exit(130)


# Only where Ctrl-C would raise KeyboardInterrupt (not where SIGINT is ignored, as in a
# background job, nor where someone else handles it), and only the main thread can set it.
_starting = (
    threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) is signal.default_int_handler
)
if _starting:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

# Fewer collector passes while the command's modules load (newsletter.cli.startup; load_app
# puts the defaults back). Pydantic scans every installed package's entry points for plugins
# when it builds the first model (about 1 % of a `newsletter ingest`); the newsletter uses
# none. Set PYDANTIC_DISABLE_PLUGINS to an empty value to have pydantic load them.
startup.begin()
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

try:
    from newsletter.cli.main import main
finally:
    # Loaded (or failed to): Ctrl-C raises KeyboardInterrupt again, which the commands handle;
    # unless a module set a handler of its own meanwhile.
    if _starting and signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run() -> None:
    """The installed `newsletter` program (and `python -m newsletter`): the command group; a
    command that asked for it ends the process here, without the interpreter's teardown
    (newsletter.cli.exiting). Only when called from a ``__main__`` module, as those two do: to
    run a command inside another program, call ``main`` (``run`` called from a module of
    yours behaves as ``main`` does)."""
    is_program = sys._getframe(1).f_globals.get("__name__") == "__main__"
    if is_program:
        exiting.program()
    try:
        main()
    except SystemExit as exc:
        if is_program:
            exiting.end_now(exc.code)  # returns when the command did not ask for it
        raise
    except OSError as exc:
        # Raised where no command's error handling is (click writing --help or --version to
        # a full device, say): the one error line, not a traceback.
        from newsletter.cli.boundary import os_error_message

        if exc.errno == errno.ENOSPC and exc.filename is None:
            message = f"could not write the output: {exc.strerror or exc}"
        else:
            message = os_error_message(exc)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(f"error: {message}\n")
        raise SystemExit(1) from None


__all__ = ["main", "run"]
