"""Ending a finished `newsletter ingest` without the interpreter's teardown.

When a Python process ends, the interpreter clears every module and frees every object one by
one, collecting garbage several times on the way. For the `newsletter` command (about 600
modules and a few hundred thousand objects) that was 0.2-0.3 s of CPU after the work is done;
since the start-up's objects are frozen out of the collector (newsletter.cli.startup) it is
0.03-0.09 s, so this module now saves little (docs/performance.md, "Ending the process").

A command asks for the quicker end with ``skip_teardown``; the program's entry point
(``newsletter.cli.run``) then ends the process itself with ``end_now`` as soon as the command
has ended, doing first what the interpreter does first at exit:

- the threads are joined, and the hooks of ``concurrent.futures`` run (``threading._shutdown``,
  what the interpreter calls);
- every exit handler runs, in the usual order (``atexit._run_exitfuncs``): logging's handlers
  are flushed and closed, multiprocessing's children ended, temporary files removed, and the
  handlers of any tool loaded before the command (a ``sitecustomize``, coverage's subprocess
  mode) run too;
- the command's database engines are disposed: their pooled connections are closed as a
  client closes them, and SQLite checkpoints its write-ahead log into the database file (a
  copy of the file alone is then up to date);
- the SystemExit message, if any, is printed as Python prints it, and standard output and
  error are flushed; then ``os._exit`` with the command's exit code.

Only the `newsletter` program itself does this: ``program`` is said by ``run`` when it is
called from a ``__main__`` module (the installed script, `python -m newsletter`), and only on
the main thread. A command invoked any other way (click's test runner, ``run`` called from a
test or an embedding program's module) holds nothing here and exits as usual; so does a
Python without the two hooks (they are CPython's), and a command that did not ask.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import Protocol


class Disposable(Protocol):
    def dispose(self) -> None: ...


_program = False  # this process is the `newsletter` program (its entry point said so)
_wanted = False  # the command asked to skip the teardown
_engines: list[Disposable] = []


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


def exit_status(code: object) -> int:
    """The process's exit status for SystemExit's ``code``, as Python's: None is 0, an int is
    itself, anything else is printed on standard error and is 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    with contextlib.suppress(AttributeError, OSError, ValueError):
        print(code, file=sys.stderr)
    return 1


def end_now(code: object) -> None:
    """End the process as described above, when the command asked for it; otherwise return
    (the caller raises its SystemExit again and the process ends the usual way)."""
    shutdown = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if not (_program and _wanted) or shutdown is None or run_exit_handlers is None:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    status = exit_status(code)
    shutdown()
    run_exit_handlers()
    for engine in _engines:
        # A failure here loses nothing: what was committed is in the database (for SQLite, in
        # its write-ahead log until the next connection checkpoints it).
        with contextlib.suppress(Exception):
            engine.dispose()
    for stream in (sys.stdout, sys.stderr):
        # Closed (`>&-` makes it None) or a closed pipe (`| head`): nothing more can be said.
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    os._exit(status)
