"""`newsletter init`: a new newsletter's folder that passes `check`, is never overwritten, and
goes from a real loopback feed to a built issue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.demo.server import FeedServer
from newsletter.domain.periods import latest_due_period
from newsletter.service.skeleton import TEMPLATES
from tests.conftest import ROOT
from tests.helpers import serve_stories


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env or {}, catch_exceptions=False)


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(autouse=True)
def own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder: no feeds.yaml, .env or NEWSLETTER_* of the repository's."""
    monkeypatch.chdir(tmp_path)
    for name in ("NEWSLETTER_CONFIG", "NEWSLETTER_DATA_DIR", "NEWSLETTER_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_bundled_templates_are_the_repositorys() -> None:
    # newsletter/skeleton/templates links to templates/, and the wheel ships it: a broken link
    # or a copy that drifted would give new newsletters other templates than the demo's.
    assert files_under(TEMPLATES) == files_under(ROOT / "templates")


def test_init_writes_a_folder_that_passes_check(tmp_path: Path) -> None:
    missing = run("check")
    assert missing.exit_code == 1 and "newsletter init" in missing.output

    made = run("init", "news")
    assert made.exit_code == 0, made.output
    folder = tmp_path / "news"
    assert (folder / "feeds.yaml").is_file() and (folder / "editorial").is_dir()
    assert files_under(folder / "templates") == files_under(ROOT / "templates")
    assert "created news/feeds.yaml" in made.output
    assert f"created {len(files_under(ROOT / 'templates'))} files in news/templates" in made.output

    checked = run("check", "--config", str(folder / "feeds.yaml"))
    assert checked.exit_code == 0, checked.output
    assert "All checks passed" in checked.output and "ERROR" not in checked.output


def test_init_again_keeps_every_file_and_restores_what_is_missing(tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    (tmp_path / "feeds.yaml").write_text("# mine\n", encoding="utf-8")
    edited = tmp_path / "templates" / "email" / "issue.html"
    edited.write_text("my layout", encoding="utf-8")
    (tmp_path / "templates" / "email" / "issue.txt").unlink()
    before = files_under(tmp_path)

    again = run("init")
    assert again.exit_code == 0, again.output
    after = files_under(tmp_path)
    # Nothing that was there changed; only the deleted template came back.
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {"templates/email/issue.txt"}
    assert after["templates/email/issue.txt"] == (ROOT / "templates/email/issue.txt").read_bytes()
    assert "kept feeds.yaml: already there, not changed" in again.output
    assert "created templates/email/issue.txt" in again.output
    total = len(files_under(ROOT / "templates"))
    assert f"kept {total - 1} files in templates: already there, not changed" in again.output

    third = run("init")
    assert files_under(tmp_path) == after
    assert f"kept {total} files in templates" in third.output  # counted, not listed one by one
    assert "created" not in third.output


def test_init_never_writes_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "feeds.yaml").symlink_to(
        elsewhere
    )  # dangling: opening it for writing would create it
    result = run("init", str(folder))
    assert result.exit_code == 0, result.output
    assert not elsewhere.exists() and "kept" in result.output


def test_a_missing_templates_folder_points_to_init(tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    (tmp_path / "templates").rename(tmp_path / "old-templates")
    built = run("check")
    assert built.exit_code == 1 and "newsletter init" in built.output


def test_from_init_to_a_built_issue_over_loopback(tmp_path: Path, feed_server: FeedServer) -> None:
    assert run("init").exit_code == 0
    config = tmp_path / "feeds.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    # What the starter's comments tell a new user to do with the example feed.
    nl = load_config(config).newsletter
    period = latest_due_period(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    feed = serve_stories(feed_server, period.end)
    example = data["feeds"][0]
    assert example["enabled"] is False
    text = config.read_text(encoding="utf-8")
    text = text.replace('"https://example.com/feed.xml"', f'"{feed["url"]}"')
    text = text.replace(
        "    enabled: false                     # remove this line once the url is yours\n",
        "    allow_private: true\n",
    )
    config.write_text(text, encoding="utf-8")
    assert run("check").exit_code == 0

    ingested = run("ingest")
    assert ingested.exit_code == 0, ingested.output
    assert "8 new items" in ingested.output
    built = run("build", "--week", period.label, "--format", "text", "--out", "issue.txt")
    assert built.exit_code == 0, built.output
    text = (tmp_path / "issue.txt").read_text(encoding="utf-8")
    assert text.startswith("My Weekly Digest") and "8 stories" in text
    assert (tmp_path / "data" / "newsletter.db").is_file()  # beside feeds.yaml


def test_init_never_writes_through_a_linked_folder_that_leads_outside(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "templates").symlink_to(elsewhere)
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code != 0
    assert "outside" in result.output and "Traceback" not in result.output
    assert list(elsewhere.iterdir()) == []
    assert not (folder / "feeds.yaml").exists()  # refused before writing anything


def test_init_refuses_an_editorial_file_before_writing(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "editorial").write_text("not a folder")
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code != 0 and "is not a folder" in result.output
    assert not (folder / "feeds.yaml").exists()
