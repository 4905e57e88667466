"""The `newsletter` command group: logging from the settings, then each command group."""

from __future__ import annotations

import logging

import click

from newsletter import __version__
from newsletter.cli import (
    bounces,
    catalog,
    database,
    editing,
    model,
    pipeline,
    subscribers,
    users,
    web,
    workers,
)
from newsletter.config import Settings, load_settings, warn_unknown_variables
from newsletter.errors import NewsletterError
from newsletter.logs import configure_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="newsletter")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Build and send a sectioned weekly email digest from RSS/Atom feeds.

    Configuration: feeds.yaml (newsletter, sections, feeds; see docs/configuration.md) and
    NEWSLETTER_* environment variables or a .env file (database, mail transport, SMTP, base URL,
    log level and format).

    Typical use: `newsletter demo` to see it work offline; `newsletter ingest` then
    `newsletter build` to preview; `newsletter run` to leave it polling and sending on schedule.
    """
    try:
        settings = load_settings(warn_unknown=False)
    except NewsletterError:
        # The command loads the settings again and reports the problem as its one error line.
        settings = Settings.model_construct()
    level = logging.getLevelName(settings.log_level.upper())
    base = level if isinstance(level, int) else logging.WARNING
    configure_logging(max(base - 10 * verbose, logging.DEBUG), settings.log_format)
    warn_unknown_variables()  # after the logging is set up, so it is one line in its format


for _module in (
    database,
    pipeline,
    editing,
    subscribers,
    bounces,
    users,
    catalog,
    model,
    workers,
    web,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)
