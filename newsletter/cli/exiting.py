"""Ending a finished `newsletter ingest` without the interpreter's teardown.

When a Python process ends, the interpreter clears every module and frees every object one by
one, collecting garbage several times on the way. For the `newsletter` command (about 600
modules and a few hundred thousand objects) that is 0.2-0.3 s of CPU after the work is done:
a sixth of a re-poll of 500 unchanged feeds (docs/performance.md, "Ending the process"). A
command that asks for it (``skip_teardown``) ends with ``os._exit`` once everything Python
does at exit that matters has run:

- the threads are joined (the interpreter does that before the exit handlers);
- every other exit handler has run: this one is registered first (``install``, before the
  command's modules are imported), so it runs last. Logging's handlers are flushed and closed,
  multiprocessing's children ended, temporary files removed. When some handler was registered
  before it (a ``sitecustomize`` or a ``.pth`` file's tool, such as coverage's subprocess
  mode), the process ends the usual way, so that handler runs too;
- the command's database engines are disposed: their pooled connections are closed as a
  client closes them, and SQLite checkpoints its write-ahead log into the database file (a
  copy of the file alone is then up to date);
- standard output and error are flushed.

Only the `newsletter` program itself does this: ``program`` is called by its entry point
(``newsletter.cli.run``, called from a ``__main__`` module: the installed script or
`python -m newsletter`), before the command runs, and ``ended`` records the exit code once it
has. A command invoked any other way (click's test runner, ``run`` called from a test or an
embedding program) changes nothing here and exits as usual; so does a program that ends with
an exception other than the command's SystemExit.
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
_first = False  # no exit handler was registered before ours
_program = False  # this process is the `newsletter` program (its entry point said so)
_wanted = False  # the command asked to skip the teardown
_exit_code: int | None = None  # the command's exit code, once it has ended
_engines: list[Disposable] = []


def install() -> None:
    """Register the exit handler (once); call before importing anything that registers its own."""
    global _installed, _first
    if not _installed:
        count = getattr(atexit, "_ncallbacks", None)  # CPython's; elsewhere, assume others came
        _first = count is not None and count() == 0
        atexit.register(_finish)
        _installed = True


def program() -> None:
    """Said by the program's entry point, before the command runs: this process is the program."""
    global _program
    _program = True


def skip_teardown(*engines: Disposable) -> None:
    """Asked by a command: end the process without the teardown, disposing ``engines`` first.
    Does nothing (holds nothing) unless this process is the program."""
    global _wanted
    if _program:
        _wanted = True
        _engines.extend(engines)


def ended(code: object) -> None:
    """The entry point's record of the command's exit code (SystemExit's ``code``: None is 0, a
    message is 1, as Python itself exits)."""
    global _exit_code
    if not _program:
        return
    if code is None:
        _exit_code = 0
    elif isinstance(code, int):
        _exit_code = code
    else:
        _exit_code = 1


def _finish() -> None:
    if not (_first and _program and _wanted) or _exit_code is None:
        return
    try:
        for engine in _engines:
            engine.dispose()
    except Exception:
        return
    for stream in (sys.stdout, sys.stderr):
        # Closed (`>&-` makes it None) or a closed pipe (`| head`): nothing more can be said.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    os._exit(_exit_code)
