"""newsletter.logs: text lines as before, or one JSON object per line with the extra fields."""

from __future__ import annotations

import io
import json
import logging
import math
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter import logs
from newsletter.errors import ConfigError
from newsletter.logs import configure_logging

log = logging.getLogger("newsletter.service.sending")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers, installed = root.level, list(root.handlers), logs._installed
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:  # a CLI test's handler that configure_logging replaced here
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    # Not None: a handler installed before this test (by a CLI test in the same process) is
    # still the one configure_logging must replace, or it would write every record twice.
    logs._installed = installed


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_json_line_has_time_level_logger_message_and_extras() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    before = datetime.now(UTC)
    log.info(
        "sent %s",
        "zhang.san@example.com",
        extra={
            "issue": "2026-W48",
            "delivery_id": 42,
            "subscriber_id": 7,
            "smtp_code": 250,
            "worker": "host-1:1234",
        },
    )
    (entry,) = json_lines(stream)
    assert entry == {
        "time": entry["time"],
        "level": "INFO",
        "logger": "newsletter.service.sending",
        "message": "sent zhang.san@example.com",
        "issue": "2026-W48",
        "delivery_id": 42,
        "subscriber_id": 7,
        "smtp_code": 250,
        "worker": "host-1:1234",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    stamp = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
    assert stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC)


def test_json_exception_is_a_string_and_the_line_stays_one_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        log.exception("lost the connection\nto the relay", extra={"delivery_id": 3})
    assert stream.getvalue().count("\n") == 1
    (entry,) = json_lines(stream)
    assert entry["level"] == "ERROR"
    assert entry["message"] == "lost the connection\nto the relay"
    assert entry["exc_info"].startswith("Traceback (most recent call last):")
    assert entry["exc_info"].endswith("ConnectionResetError: peer went away")
    assert entry["delivery_id"] == 3


def test_json_without_exception_has_no_exc_info() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log.warning("plain")
    (entry,) = json_lines(stream)
    assert "exc_info" not in entry


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    __repr__ = __str__


def test_values_json_cannot_hold_never_break_logging() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    cycle: list[Any] = []
    cycle.append(cycle)
    log.info("path", extra={"path": Path("/tmp/x"), "when": datetime(2026, 11, 23, tzinfo=UTC)})
    log.info("bytes and sets", extra={"data": b"\xff\x00", "ids": {1}})
    log.info("nan", extra={"rate": math.nan})
    log.info("tuple keys", extra={"counts": {(1, 2): 3}})
    log.info("cycle", extra={"cycle": cycle})
    log.info("unprintable", extra={"thing": Unprintable()})
    entries = json_lines(stream)
    assert [e["message"] for e in entries[:6]] == [
        "path",
        "bytes and sets",
        "nan",
        "tuple keys",
        "cycle",
        "unprintable",
    ]
    assert entries[0]["path"] == "/tmp/x"
    assert entries[0]["when"] == "2026-11-23 00:00:00+00:00"
    assert entries[1]["data"] == "b'\\xff\\x00'" and entries[1]["ids"] == "{1}"
    assert entries[2]["rate"] == "nan"
    assert entries[3]["counts"] == "{(1, 2): 3}"
    assert isinstance(entries[4]["cycle"], str)
    assert entries[5]["thing"] == "<unprintable Unprintable>"
    assert len(entries) == 6


def test_bad_log_arguments_keep_the_line() -> None:
    # Through the formatter: pytest's own capture handler would raise on these arguments.
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, "sent %d", ("x",), None)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["message"] == (
        "'sent %d' % ('x',) (bad log arguments: %d format: a real number is required, not str)"
    )


def test_an_extra_named_like_a_core_field_does_not_replace_it() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log.info("hello", extra={"level": "fake", "time": "then", "logger": "other"})
    (entry,) = json_lines(stream)
    assert entry["level"] == "INFO" and entry["logger"] == "newsletter.service.sending"
    assert entry["extra_level"] == "fake"
    assert entry["extra_time"] == "then"
    assert entry["extra_logger"] == "other"


def test_non_ascii_is_escaped_so_any_stream_encoding_works() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log.info("医疗产业周报", extra={"subject": "周报"})
    assert stream.getvalue().isascii()
    (entry,) = json_lines(stream)
    assert entry["message"] == "医疗产业周报" and entry["subject"] == "周报"


def test_text_format_is_the_classic_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    log.info("sent %d messages", 3, extra={"issue": "2026-W48"})
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO newsletter\.service\.sending: sent 3 messages\n",
        stream.getvalue(),
    )


def test_level_filters_records() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream)
    log.info("hidden")
    log.warning("shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown"]
    configure_logging(logging.DEBUG, "json", stream)
    log.debug("now shown")
    assert [e["message"] for e in json_lines(stream)] == ["shown", "now shown"]


def test_calling_again_replaces_only_its_own_handler() -> None:
    other = io.StringIO()
    foreign = logging.StreamHandler(other)
    logging.getLogger().addHandler(foreign)
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "text", first)
    configure_logging("INFO", "json", second)
    log.info("once")
    logging.getLogger().removeHandler(foreign)
    assert first.getvalue() == ""
    assert [e["message"] for e in json_lines(second)] == ["once"]
    assert other.getvalue() == "once\n"


def test_default_stream_follows_sys_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("INFO", "json")
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)  # as click's CliRunner does
    log.info("to the current stderr")
    assert [e["message"] for e in json_lines(swapped)] == ["to the current stderr"]


def test_bad_level_or_format_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_LOG_LEVEL 'LOUD' is not a log level"):
        configure_logging("LOUD", "json")
    with pytest.raises(ConfigError, match="NEWSLETTER_LOG_FORMAT must be text or json"):
        configure_logging("INFO", "xml")  # type: ignore[arg-type]


def test_libraries_log_warnings_only_unless_debugging() -> None:
    """Our events at INFO; alembic, httpx, httpcore and APScheduler only from WARNING, and
    everything at DEBUG."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream=stream)
    try:
        logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/")
        logging.getLogger("apscheduler.scheduler").warning("job missed")
        logging.getLogger("newsletter.scheduler").info("poll: 3 new items")
        text = stream.getvalue()
        assert "Context impl" not in text and "HTTP Request" not in text
        assert "job missed" in text and "poll: 3 new items" in text
        configure_logging("DEBUG", "text", stream=stream)
        logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1/again")
        assert "again" in stream.getvalue()
    finally:
        configure_logging("WARNING", "text")


def test_our_events_at_info_and_libraries_at_warning() -> None:
    """At INFO: newsletter.* records and the serve request log show, any library's INFO does
    not (even one not listed by name), its warnings do; at DEBUG everything shows."""
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    logging.getLogger("newsletter.scheduler").info("poll: 3 new items")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    logging.getLogger("uvicorn.error").info("Started server process [1]")
    logging.getLogger("some_unlisted_library").info("chatty")
    logging.getLogger("some_unlisted_library").warning("worth knowing")
    logging.getLogger("uvicorn.access").info('127.0.0.1:5 - "GET /healthz HTTP/1.1" 200')
    lines = stream.getvalue().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "INFO newsletter.scheduler: poll: 3 new items",
        "WARNING some_unlisted_library: worth knowing",
        'INFO uvicorn.access: 127.0.0.1:5 - "GET /healthz HTTP/1.1" 200',
    ]
    stream = io.StringIO()
    configure_logging("DEBUG", "text", stream)
    logging.getLogger("some_unlisted_library").info("chatty")
    logging.getLogger("alembic.runtime.migration").info("Context impl SQLiteImpl.")
    assert "chatty" in stream.getvalue() and "SQLiteImpl" in stream.getvalue()


def test_psycopg_cleanup_warning_after_a_reported_error_is_kept_for_debug() -> None:
    """psycopg's "error ignored terminating <Pipeline>" follows a failed batch that we report
    in one `error:` line ourselves: hidden unless logging at DEBUG; its other warnings stay."""
    stream = io.StringIO()
    psycopg_log = logging.getLogger("psycopg")
    configure_logging("info", "json", stream)
    psycopg_log.warning("error ignored terminating %r: %s", "<psycopg.Pipeline>", "disk full")
    psycopg_log.warning("connection lost")
    assert [e["message"] for e in json_lines(stream)] == ["connection lost"]
    configure_logging(logging.DEBUG, "json", stream)
    psycopg_log.warning("error ignored terminating %r: %s", "<psycopg.Pipeline>", "disk full")
    assert json_lines(stream)[-1]["message"].startswith("error ignored terminating")
