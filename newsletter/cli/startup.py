"""Start-up of the `newsletter` command: fewer collector passes while its modules load, and
no import of httpx's own command line.

Importing a command's modules builds a few hundred thousand objects that live until the process
ends, and the cyclic garbage collector's default first threshold (700 allocations) walks them
again and again on the way: about 2 % of the instructions of a `newsletter ingest`
(docs/performance.md, "Start-up"). ``begin`` raises the threshold before the imports; ``end``
puts the defaults back once the command's app is open (``load_app``), so long-running commands
(`run`, `serve`, the workers) collect as usual for the rest of their lives. ``end`` also
freezes what exists by then (``gc.freeze``: the modules, classes and the app, about 100,000
objects): later full collections skip them, where each used to walk them all (45-70 ms a
pass; -0.15 s of CPU in a `newsletter ingest` of unchanged feeds, docs/performance.md).

httpx imports its command-line tool (click, rich's progress and syntax highlighting, pygments)
whenever rich is installed, as it is here; the `newsletter` command never runs it. ``begin``
marks that one module absent before httpx is imported, so httpx falls back to its stub: about
77 M instructions, 3 % of a `newsletter ingest` start-up (callgrind).
"""

from __future__ import annotations

import gc
import sys

STARTUP_THRESHOLD = (100_000, 50, 100)
HTTPX_COMMAND_LINE = "httpx._main"
_defaults: tuple[int, int, int] | None = None


def begin() -> None:
    """Raise the collector's thresholds (once; the defaults are kept for ``end``), and keep
    httpx's command line from being imported (unless httpx is imported already)."""
    global _defaults
    if "httpx" not in sys.modules:
        sys.modules.setdefault(HTTPX_COMMAND_LINE, None)  # type: ignore[arg-type]
    if _defaults is None:
        _defaults = gc.get_threshold()
        gc.set_threshold(*STARTUP_THRESHOLD)


def end() -> None:
    """Put the collector's thresholds back (a no-op when ``begin`` did not run, or already
    ended)."""
    global _defaults
    if _defaults is not None:
        gc.freeze()  # what the start-up built lives on: the collector never walks it again
        gc.set_threshold(*_defaults)
        _defaults = None
