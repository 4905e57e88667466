"""Log output for the entry points: the classic text lines, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from newsletter.errors import ConfigError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]

# Everything a LogRecord carries by itself; any other attribute came from extra={...}.
_RECORD_FIELDS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",  # Python 3.12+
    }
)
_CORE_FIELDS = ("time", "level", "logger", "message")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the record's
    extra={...} fields, and exc_info / stack_info as text. Never raises for odd extras: values
    JSON cannot hold are written with str(), or a placeholder when even that fails."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for key, value in record.__dict__.items():
            if key in _RECORD_FIELDS or key.startswith("_"):
                continue
            # extra={"level": ...} must not hide the record's own level.
            entry[f"extra_{key}" if key in _CORE_FIELDS else key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(entry, default=_text, ensure_ascii=True, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            # A key that is not a string, NaN or a cycle: degrade
            # those fields to safe strings rather than lose the line.
            return json.dumps(
                {key: _safe(value) for key, value in entry.items()},
                default=_text,
                ensure_ascii=True,
            )


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError, KeyError) as exc:  # log.info("%d", "x"): keep the line
        return f"{_text(record.msg)!r} % {_text(record.args)} (bad log arguments: {exc})"


def _text(value: Any) -> str:
    """str(value), or a placeholder when its __str__ raises."""
    try:
        return str(value)
    except Exception:  # any error from someone's __str__ must not stop logging
        return f"<unprintable {type(value).__name__}>"


def _safe(value: Any) -> Any:
    """The value when JSON holds it (objects as text), else the whole value as text."""
    try:
        json.dumps(value, default=_text, ensure_ascii=True, allow_nan=False)
        return value
    except (TypeError, ValueError, RecursionError):
        return _text(value)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time of each record, like logging.lastResort,
    so a test runner that swaps standard error (click's CliRunner) never leaves the handler
    holding a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_installed: logging.Handler | None = None
# Set to WARNING outright (their INFO records are not even made): the loudest ones.
QUIET_LIBRARIES = (
    "alembic",
    "httpx",
    "httpcore",
    "apscheduler",
    "uvicorn.error",
    "multipart",
    "trafilatura",
    "htmldate",
    "charset_normalizer",
    "sqlalchemy",
)
# Warnings a library gives while cleaning up after an error we report ourselves: psycopg's
# "error ignored terminating <Pipeline ...>" follows every failed batch on PostgreSQL (a full
# disk, a lost server) and would be a second line beside the one `error:` line. Kept at DEBUG.
SECONDARY_WARNINGS = (("psycopg", "error ignored terminating"),)


class SecondaryWarnings(logging.Filter):
    """Drops SECONDARY_WARNINGS below DEBUG level logging."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level <= logging.DEBUG:
            return True
        return not any(
            record.name == name and str(record.msg).startswith(prefix)
            for name, prefix in SECONDARY_WARNINGS
        )


# Shown at INFO although not ours: the request log that `newsletter serve --access-log` asks for.
WANTED_LIBRARY_LOGGERS = ("uvicorn.access",)


class OursAtInfo(logging.Filter):
    """Below WARNING, only our own records (loggers named newsletter.*) and the request log
    pass; any library's INFO is dropped, whatever logger it uses. At DEBUG everything passes."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or self.level <= logging.DEBUG:
            return True
        name = record.name
        return (
            name == "newsletter"
            or name.startswith("newsletter.")
            or name in WANTED_LIBRARY_LOGGERS
            or name == "root"
        )


def at_least_info(level: str | int) -> str | int:
    """A long-running process (run, worker, serve) logs at INFO even when the base level is
    higher (an unknown name counts as WARNING, so INFO too)."""
    resolved = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    # An unknown name falls back to WARNING, as for every command (docs/configuration.md).
    return min(resolved, logging.INFO) if isinstance(resolved, int) else logging.INFO


def configure_logging(
    level: str | int, fmt: LogFormat = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Send log records at ``level`` or above to ``stream`` (standard error by default) as text
    lines or JSON lines. Calling it again replaces the handler it installed before; handlers
    others installed (pytest's, for one) are left alone. Returns the handler."""
    global _installed
    resolved = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(resolved, int):
        raise ConfigError(
            f"NEWSLETTER_LOG_LEVEL {level!r} is not a log level; "
            "use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    if fmt not in ("text", "json"):
        raise ConfigError(f"NEWSLETTER_LOG_FORMAT must be text or json, got {fmt!r}")
    handler: logging.StreamHandler[TextIO] = (
        _StderrHandler() if stream is None else logging.StreamHandler(stream)
    )
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(OursAtInfo(resolved))
    handler.addFilter(SecondaryWarnings(resolved))
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    root.setLevel(resolved)
    # Libraries speak at INFO on every database open (alembic) and every request (httpx):
    # noise next to our own INFO events. They keep WARNING and above, and all of it at DEBUG.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(
            logging.NOTSET if resolved <= logging.DEBUG else logging.WARNING
        )
    _installed = handler
    return handler
