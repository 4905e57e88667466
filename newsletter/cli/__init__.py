"""Entry points: the `newsletter` command and the scheduler wiring."""

from newsletter.cli.commands import main

__all__ = ["main"]
