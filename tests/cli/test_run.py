"""`newsletter run` as a real process: it polls the feeds at start and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from newsletter.config import load_config
from newsletter.demo.server import FeedServer
from newsletter.domain.periods import latest_due_period
from tests.conftest import write_config
from tests.helpers import serve_stories

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ingest_polls(url: str) -> float:
    """newsletter_ingest_duration_seconds_count from a metrics page (0 when not up yet)."""
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return 0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "newsletter_ingest_duration_seconds_count":
                return sample.value
    return 0


def test_run_polls_feeds_and_stops_on_sigterm(tmp_path: Path, feed_server: FeedServer) -> None:
    """...and serves its ingest durations with --metrics-port; the log shows our INFO events,
    not the libraries' (alembic, APScheduler, httpx)."""
    nl = load_config(write_config(tmp_path, [])).newsletter
    period = latest_due_period(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    config = write_config(tmp_path, [serve_stories(feed_server, period.end)])
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_CONFIG": str(config),
    }
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "run", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        items = 0
        while time.monotonic() < deadline and items == 0:
            time.sleep(0.5)
            listed = subprocess.run(
                [sys.executable, "-m", "newsletter", "feeds", "--format", "json"],
                env=env,
                capture_output=True,
                text=True,
            )
            if listed.returncode == 0:
                items = json.loads(listed.stdout)[0]["items"]
        assert items == 8, "newsletter run did not poll the feed at start"
        assert process.poll() is None, "newsletter run exited early"
        metrics = f"http://127.0.0.1:{port}/metrics"
        while time.monotonic() < deadline and _ingest_polls(metrics) < 1:
            time.sleep(0.5)
        assert _ingest_polls(metrics) >= 1, "the poll's duration was not in the metrics"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output
    assert "INFO newsletter.scheduler: poll: " in output, output
    for library in ("alembic", "apscheduler", "httpx"):
        assert f"INFO {library}" not in output, output


def _read_until(process: subprocess.Popen[str], marker: str, seconds: float = 60) -> str:
    """The process's output up to and including the first line holding ``marker``."""
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        seen.append(line)
        if marker in line or not line:
            break
    output = "".join(seen)
    assert marker in output, output
    return output


def _run_env(tmp_path: Path, config: Path, name: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / f'{name}.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / f"data-{name}"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_CONFIG": str(config),
    }


def _output_or_stacks(process: subprocess.Popen[str], timeout: float) -> str:
    """What the process printed until it exited; if it has not exited by ``timeout`` seconds,
    every thread's stack (SIGUSR1, see stop_on_signals) goes into the failure message."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(2)
        process.kill()
        output = process.communicate()[0]
        raise AssertionError(f"still running {timeout} s after SIGTERM:\n{output}") from None


def test_parallel_runs_stop_cleanly_on_sigterm_at_every_stage(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Six `newsletter run` processes at once (a loaded machine), each stopped at another
    moment: during start-up, while catching up and building the draft, and while idle. Each
    exits 0, says it stopped, and prints no traceback."""
    nl = load_config(write_config(tmp_path, [])).newsletter
    period = latest_due_period(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    config = write_config(tmp_path, [serve_stories(feed_server, period.end)])
    delays = [0.0, 0.1, 0.4, 1.0, 2.0, 4.0]  # after the process says it is starting
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "newsletter", "run"],
            env=_run_env(tmp_path, config, f"run{i}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(len(delays))
    ]
    early: list[str] = []  # what each process printed up to "starting"
    try:
        for process in processes:  # the signal handlers are installed before that line
            early.append(_read_until(process, "newsletter run: starting"))
        started = time.monotonic()
        for process, delay in zip(processes, delays, strict=True):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            process.send_signal(signal.SIGTERM)
        outputs = [_output_or_stacks(p, 120) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    outputs = [first + rest for first, rest in zip(early, outputs, strict=True)]
    for process, output, delay in zip(processes, outputs, delays, strict=True):
        assert process.returncode == 0, f"stopped after {delay} s: {output}"
        assert "Traceback" not in output, f"stopped after {delay} s: {output}"
        assert "cannot schedule new futures" not in output


def test_second_signal_interrupts_at_once(tmp_path: Path, feed_server: FeedServer) -> None:
    """SIGINT twice while a step is in hand (the start-up draft polls a feed that answers after
    60 s): the first asks to stop after the step, the second ends the process at once with one
    clean error line and exit code 130."""
    entry = serve_stories(feed_server, datetime.now(UTC))
    feed_server.routes["/stories.xml"].delay = 60.0
    config = write_config(tmp_path, [entry])
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "run"],
        env=_run_env(tmp_path, config, "twice"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        early = _read_until(process, "newsletter run: starting")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            path == "/stories.xml" for path, _ in feed_server.requests
        ):
            time.sleep(0.05)  # the draft's poll is now waiting for the slow feed
        assert feed_server.requests, early
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        output = early + process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, output
    assert "error: interrupted again; stopping at once" in output
    assert "Traceback" not in output


def test_sigusr1_prints_every_threads_stack_and_the_run_goes_on(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """What an operator does with a process that does not stop: `kill -USR1` prints where each
    thread is; the process keeps running and still stops cleanly on SIGTERM."""
    config = write_config(tmp_path, [])
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "run"],
        env=_run_env(tmp_path, config, "usr1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _read_until(process, "newsletter run: starting")
        process.send_signal(signal.SIGUSR1)
        stacks = _read_until(process, "Current thread", seconds=30)
        stacks += _read_until(process, 'File "', seconds=10)
        assert "hread 0x" in stacks and "most recent call first" in stacks
        assert process.poll() is None  # still running
        process.send_signal(signal.SIGTERM)
        output = _output_or_stacks(process, 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Traceback" not in output
