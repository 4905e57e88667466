"""Entry points: the `newsletter` command and the scheduler wiring."""

import os

from newsletter.cli import startup

# Fewer collector passes while the command's modules load (newsletter.cli.startup; load_app
# puts the defaults back). Pydantic scans every installed package's entry points for plugins
# when it builds the first model (about 1 % of a `newsletter ingest`); the newsletter uses
# none. Set PYDANTIC_DISABLE_PLUGINS to an empty value to have pydantic load them.
startup.begin()
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from newsletter.cli.main import main  # noqa: E402 - after the two settings above

__all__ = ["main"]
