"""`newsletter run` as a real process: it polls the feeds at start and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from newsletter.config import load_config
from newsletter.demo.server import FeedServer
from newsletter.domain.periods import latest_due_period
from tests.conftest import write_config
from tests.helpers import serve_stories


def test_run_polls_feeds_and_stops_on_sigterm(tmp_path: Path, feed_server: FeedServer) -> None:
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
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "run"],
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
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output
