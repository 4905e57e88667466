"""A real `newsletter serve` (and other CLI commands) on 127.0.0.1 for the system tests, over
a feeds.yaml and SQLite database in a folder (the server itself: tests.browsing)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browsing import Server, newsletter, serve
from tests.conftest import write_config
from tests.web_helpers import FEEDS

SECRET = "web-system-test-secret"


def environment(folder: Path, base_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """NEWSLETTER_* settings for a feeds.yaml and SQLite database in ``folder``."""
    config = folder / "feeds.yaml"
    if not config.exists():
        write_config(folder, FEEDS)
    return {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(folder / "data"),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{folder / 'web.db'}",
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_BASE_URL": base_url,
        "NEWSLETTER_SECRET_KEY": SECRET,
    }


@contextmanager
def serving(folder: Path, preexec_fn: Callable[[], None] | None = None) -> Iterator[Server]:
    """`newsletter serve` on a free port over the folder's feeds.yaml and database."""
    with serve(
        environment(folder), folder, ready_path="/archive", preexec_fn=preexec_fn, wait_seconds=30
    ) as server:
        yield server


__all__ = ["SECRET", "Server", "environment", "newsletter", "serving"]
