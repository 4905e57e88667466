"""The `newsletter` command group: logging from the settings, then each command group."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import click

from newsletter import __version__
from newsletter.cli.boundary import CLICK_EXITS, SETTINGS_KEY, fail, report_failure
from newsletter.config import Settings, load_settings, warn_unknown_variables
from newsletter.errors import NewsletterError
from newsletter.logs import configure_logging

# The modules under newsletter.cli whose COMMANDS make up the `newsletter` group.
COMMAND_MODULES = (
    "database",
    "pipeline",
    "editing",
    "subscribers",
    "bounces",
    "users",
    "catalog",
    "model",
    "workers",
    "web",
    "project",
)
# Where the common commands live, so that running one imports its own module only (the web
# app, rendering and the scheduler are not imported by `newsletter ingest`). A command not
# listed here is still found: every module is imported to look for it.
COMMAND_HOME = {
    "db": "database",
    "ingest": "pipeline",
    "build": "pipeline",
    "send": "pipeline",
    "demo": "pipeline",
    "issue": "editing",
    "subscribers": "subscribers",
    "bounces": "bounces",
    "users": "users",
    "items": "catalog",
    "feeds": "catalog",
    "check": "catalog",
    "model": "model",
    "worker": "workers",
    "ingest-worker": "workers",
    "status": "workers",
    "run": "workers",
    "serve": "web",
    "preview-url": "web",
    "init": "project",
}


def _commands(module: str) -> dict[str, click.Command]:
    """The commands one module of newsletter.cli declares, by name."""
    found = importlib.import_module(f"newsletter.cli.{module}").COMMANDS
    return {command.name or "": command for command in found}


class LazyGroup(click.Group):
    """A command group that imports a command's module when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names: set[str] = set()
        for module in COMMAND_MODULES:
            names.update(_commands(module))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        home = COMMAND_HOME.get(cmd_name)
        if home is not None:
            command = _commands(home).get(cmd_name)
            if command is not None:
                return command
        for module in COMMAND_MODULES:
            command = _commands(module).get(cmd_name)
            if command is not None:
                return command
        return None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; whatever it raises that its own boundary did not turn into a line
        (an error in a group, in the settings, or in a command without one) is one line too."""
        try:
            return super().invoke(ctx)
        except CLICK_EXITS:
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:
            report_failure(exc)


def _config_default(command: click.Command, path: Path) -> dict[str, Any]:
    """A click default map giving ``path`` to the command's --config, and to each of a group's
    commands (a group such as `feeds` runs as a command too)."""
    defaults: dict[str, Any] = {}
    if any(p.name == "config_path" for p in command.params):
        defaults["config_path"] = path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            defaults[name] = _config_default(sub, path)
    return defaults


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="newsletter")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--debug",
    is_flag=True,
    help="Show the traceback of an unexpected error (also NEWSLETTER_DEBUG=1).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="feeds.yaml for the command that follows, as if given after it (its own --config wins).",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, debug: bool, config_path: Path | None) -> None:
    """Build and send a sectioned weekly email digest from RSS/Atom feeds.

    Configuration: feeds.yaml (newsletter, sections, feeds; see docs/configuration.md) and
    NEWSLETTER_* environment variables or a .env file (database, mail transport, SMTP, base URL,
    log level and format).

    Typical use: `newsletter demo` to see it work offline; `newsletter ingest` then
    `newsletter build` to preview; `newsletter run` to leave it polling and sending on schedule.
    """
    ctx.meta["newsletter.debug"] = debug
    if config_path is not None and ctx.invoked_subcommand:
        # `newsletter --config F ingest` is `newsletter ingest --config F`: the option's default
        # for the command (and every command of a group such as `issue`).
        command = LazyGroup.get_command(main, ctx, ctx.invoked_subcommand)
        if command is not None:
            ctx.default_map = {ctx.invoked_subcommand: _config_default(command, config_path)}
    try:
        settings = load_settings(warn_unknown=False)
        ctx.meta[SETTINGS_KEY] = settings  # the command's load_app uses them (read once)
    except NewsletterError:
        # The command loads the settings again and reports the problem as its one error line.
        settings = Settings.model_construct()
    level = logging.getLevelName(settings.log_level.upper())
    base = level if isinstance(level, int) else logging.WARNING
    configure_logging(max(base - 10 * verbose, logging.DEBUG), settings.log_format)
    warn_unknown_variables()  # after the logging is set up, so it is one line in its format
