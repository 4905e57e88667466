"""The App: the generated secret key."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_senders_starting_together_share_one_generated_key(make_app: Any, tmp_path: Path) -> None:
    """Several sender threads asking for the key at once (no NEWSLETTER_SECRET_KEY) all get the
    same complete key, and one file is left: no FileExistsError, no empty read."""
    app = make_app(secret_key=None)
    start = threading.Barrier(16)
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            keys.append(app.secret())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(keys) == 16 and len(set(keys)) == 1 and len(keys[0]) >= 32
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["secret.key"]
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o777 == 0o600
