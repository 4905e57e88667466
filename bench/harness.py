"""Shared by the benchmarks: a feed server in a child process, a config, a watchdog, the machine."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml
from feedgen import make_feed

from newsletter.config import Settings
from newsletter.demo.server import FeedServer, Route
from newsletter.service.app import App, open_app

ROOT = Path(__file__).resolve().parent.parent
LIBRARIES = (
    "feedparser",
    "httpx",
    "httpcore",
    "SQLAlchemy",
    "sqlmodel",
    "nh3",
    "premailer",
    "Jinja2",
    "lxml",
)
FEED_CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def start_watchdog(seconds: float) -> None:
    """Dump every thread's stack and exit the process if the run takes longer than this."""
    faulthandler.dump_traceback_later(seconds, exit=True)


def feed_path(index: int) -> str:
    """URL path of generated feed number ``index``."""
    return f"/feeds/{index:05d}.xml"


def _serve_generated(
    conn: Connection,
    feeds: int,
    items: int,
    latency: float,
    now: datetime,
    window: timedelta,
    backlog: int | None,
    facts: bool = False,
) -> None:
    """Child process: generate the feeds, serve them, stop on a message or when the parent dies."""
    routes = {
        feed_path(i): Route(
            body=make_feed(i, items, now, window, facts=facts), content_type=FEED_CONTENT_TYPE
        )
        for i in range(feeds)
    }
    with FeedServer(routes, latency=latency) as server:
        if backlog:
            fix_backlog(server, backlog)
        conn.send((server.base_url, sum(len(r.body) for r in routes.values())))
        with suppress(EOFError):  # EOF: the parent exited (or the watchdog ended it)
            conn.recv()


def fix_backlog(server: FeedServer, backlog: int) -> None:
    """Give the server the listen backlog it means to have.

    FeedServer sets ``request_queue_size = 256`` on the instance after the constructor has
    already called ``listen(5)``; with 16 clients connecting at once the kernel drops SYNs and
    each dropped one costs a 1 s retransmit. Calling listen() again updates the backlog.
    """
    server._httpd.socket.listen(backlog)


@contextmanager
def generated_feed_server(
    feeds: int,
    items: int,
    latency: float,
    now: datetime,
    window: timedelta = timedelta(days=7),
    backlog: int | None = 256,
    facts: bool = False,
) -> Iterator[tuple[str, int]]:
    """Serve ``feeds`` generated feeds from a child process; yields (base URL, total body bytes).

    The server gets its own process so that its threads never hold the measured process's GIL.
    ``backlog=None`` keeps FeedServer's own (see fix_backlog).
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=_serve_generated,
        args=(child, feeds, items, latency, now, window, backlog, facts),
        name="feed-server",
        daemon=True,
    )
    process.start()
    child.close()
    try:
        if not parent.poll(300):
            raise RuntimeError("the feed server did not start within 300 s")
        try:
            base_url, total_bytes = parent.recv()
        except EOFError as exc:
            raise RuntimeError("the feed server process exited before serving") from exc
        yield base_url, total_bytes
    finally:
        with suppress(OSError):
            parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.terminate()
            process.join(5)


def write_config(folder: Path, feeds: list[dict[str, Any]]) -> Path:
    """A feeds.yaml with the project's newsletter block and sections and the given feeds."""
    project = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    newsletter = dict(project["newsletter"])
    newsletter["templates"] = str(ROOT / "templates")
    data = {"newsletter": newsletter, "sections": project["sections"], "feeds": feeds}
    path = folder / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def make_app(folder: Path, feeds: list[dict[str, Any]], **overrides: Any) -> App:
    """An App over a fresh SQLite file in ``folder``, loopback feeds allowed."""
    values: dict[str, Any] = {
        "data_dir": folder,
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "outbox_dir": folder / "outbox",
        "allow_private_addresses": True,
        "secret_key": "bench-secret",
        "base_url": "https://news.example.com",
        "mail_transport": "file",
    }
    values.update(overrides)
    return open_app(Settings(**values), write_config(folder, feeds))


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def median_ms(func: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in milliseconds."""
    return statistics.median(timed(func)[0] for _ in range(repeat)) * 1000


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def machine_summary() -> str:
    """One paragraph: cores, CPU, memory, Python and library versions."""
    libs = []
    for name in LIBRARIES:
        try:
            libs.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return (
        f"machine: {os.cpu_count()} cores, {_cpu_model()}, {_memory()} RAM; "
        f"Python {platform.python_version()} ({sys.platform})\n"
        f"libraries: {', '.join(libs)}"
    )
