"""Entry points: the `newsletter` command and the scheduler wiring."""

import gc
import os

# Start-up (docs/performance.md, "Start-up"): importing the command's modules builds hundreds
# of thousands of objects that live until the process ends, and the cyclic collector's default
# first threshold (700 allocations) walks them again and again on the way (about 2 % of the
# instructions of a `newsletter ingest`). A higher one keeps collections rare; cycles are still
# collected, only later. Pydantic scans every installed package's entry points for plugins
# when it builds the first model (about 1 %); the newsletter uses none. Set
# PYDANTIC_DISABLE_PLUGINS to an empty value to have pydantic load them.
gc.set_threshold(100_000, 50, 100)
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from newsletter.cli.main import main  # noqa: E402 - after the two settings above

__all__ = ["main"]
