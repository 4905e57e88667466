"""Ending a finished `newsletter ingest` without the interpreter's teardown.

When a Python process ends, the interpreter clears every module and frees every object one by
one, collecting garbage several times on the way. For the `newsletter` command (about 600
modules and a few hundred thousand objects) that is 0.2-0.3 s of CPU after the work is done:
a sixth of a re-poll of 500 unchanged feeds (docs/performance.md, "Teardown"). A command that
asks for it (``skip_teardown``) ends with ``os._exit`` once everything Python does at exit
that matters has run:

- the threads are joined (the interpreter does that before the exit handlers);
- every other exit handler has run: this one is registered first (``install``, before the
  command's modules are imported), so it runs last. Logging's handlers are flushed and closed,
  multiprocessing's children ended, temporary files removed;
- the command's database engines are disposed: SQLite checkpoints its write-ahead log into
  the database file (a copy of the file alone is then up to date) and PostgreSQL is told the
  session ends (no "unexpected EOF" in its log);
- standard output and error are flushed.

Only the `newsletter` program itself does this (``run``, its entry point, records the exit
code); a command invoked in-process (click's test runner, an embedding program) exits as
usual. An exception other than SystemExit (a crash's traceback) ends the usual way too.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from typing import Protocol


class Disposable(Protocol):
    def dispose(self) -> None: ...


_installed = False
_exit_code: int | None = None  # set by the entry point once the command has ended
_engines: list[Disposable] = []
_wanted = False


def install() -> None:
    """Register the exit handler (once); call before importing anything that registers its own."""
    global _installed
    if not _installed:
        atexit.register(_finish)
        _installed = True


def skip_teardown(*engines: Disposable) -> None:
    """Asked by a command: end the process without the teardown, disposing ``engines`` first."""
    global _wanted
    _wanted = True
    _engines.extend(engines)


def ended(code: object) -> None:
    """The entry point's record of the command's exit code (SystemExit's ``code``: None is 0, a
    message is 1, as Python itself exits)."""
    global _exit_code
    if code is None:
        _exit_code = 0
    elif isinstance(code, int):
        _exit_code = code
    else:
        _exit_code = 1


def _finish() -> None:
    if not _wanted or _exit_code is None:
        return
    try:
        for engine in _engines:
            engine.dispose()
    except Exception:
        return
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (`| head`) or stream: nothing more can be said there.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(_exit_code)
