"""Shared fixtures: real loopback HTTP and SMTP servers, a real SQLite file (or PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

# pytest-xdist workers (`make test-fast`) set COLUMNS=80, and rich fixes a console's width when
# COLUMNS is set as the console is made (at import of the CLI): take it away first, so that the
# CLI tests that ask for a wide table (COLUMNS in the runner's environment) get one, as in a
# serial run.
os.environ.pop("COLUMNS", None)

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.service.app import App, open_app

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus" / "feeds"
POSTGRES_URL = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL")

SECTIONS: list[dict[str, Any]] = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))[
    "sections"
]


def newsletter_block(**overrides: Any) -> dict[str, Any]:
    """A newsletter: block for test configs (templates from the repository)."""
    block: dict[str, Any] = {
        "title": "Test Health Weekly",
        "sender": {"name": "Test Weekly 测试周报", "email": "digest@news.example.com"},
        "timezone": "Asia/Shanghai",
        "schedule": {"day": "monday", "time": "08:00"},
        "min_items": 1,
        "templates": str(TEMPLATES),
    }
    block.update(overrides)
    return block


def write_config(folder: Path, feeds: list[dict[str, Any]], **newsletter: Any) -> Path:
    """Write a feeds.yaml with the project's sections and the given feeds."""
    path = folder / "feeds.yaml"
    data = {"newsletter": newsletter_block(**newsletter), "sections": SECTIONS, "feeds": feeds}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A real HTTP server on 127.0.0.1 serving whatever routes a test sets."""
    with FeedServer() as server:
        yield server


@pytest.fixture(params=["sqlite"] + (["postgresql"] if POSTGRES_URL else []))
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real SQLite file; also a fresh PostgreSQL schema when NEWSLETTER_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def make_app(tmp_path: Path, database_url: str) -> Any:
    """Build an App over a test config: make_app(feeds=[...], **settings_overrides)."""
    created: list[App] = []

    def factory(
        feeds: list[dict[str, Any]] | None = None,
        newsletter: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> App:
        config = write_config(tmp_path, feeds or [], **(newsletter or {}))
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "outbox_dir": tmp_path / "outbox",
            "allow_private_addresses": True,
            "secret_key": "test-secret",
            "base_url": "https://news.example.com",
            "parse_workers": 2,
            "fetch_timeout": 5.0,
        }
        values.update(overrides)
        app = open_app(Settings(**values), config)
        created.append(app)
        return app

    yield factory
    for app in created:
        app.engine.dispose()


@pytest.fixture
def corpus_dir() -> Path:
    """../shared/corpus/feeds, or skip with the reason."""
    if not SHARED_CORPUS.is_dir():
        pytest.skip(f"real-world feed corpus not found at {SHARED_CORPUS} (../shared is absent)")
    return SHARED_CORPUS


__all__ = ["ROOT", "SECTIONS", "TEMPLATES", "newsletter_block", "shutil", "write_config"]


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """A real aiosmtpd server on 127.0.0.1 (tests.smtp_server.SmtpServer)."""
    from tests.smtp_server import SmtpServer

    with SmtpServer() as server:
        yield server


def bench_module(script: str) -> Any:
    """A script of bench/ (not a package), loaded once by file path: ``bench_module("eval_editorial")``."""
    import importlib.util
    import sys

    name = f"bench_{script}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def figures() -> dict[str, float]:
    """Precision, recall and exact-match rates of the detectors on the labelled set."""
    module = bench_module("eval_editorial")
    result: dict[str, float] = module.evaluate(module.load())
    return result
