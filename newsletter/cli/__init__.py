"""Entry points: the `newsletter` command and the scheduler wiring."""

from newsletter.cli.main import main

__all__ = ["main"]
