"""`newsletter check`: feeds.yaml, every template and the demo issue, offline, with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from newsletter.cli import main
from newsletter.service.checks import run_checks
from tests.conftest import ROOT, TEMPLATES


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped feeds.yaml and templates, and no NEWSLETTER_* from outside."""
    import os

    for name in list(os.environ):
        if name.startswith("NEWSLETTER_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(TEMPLATES, tmp_path / "templates")
    shutil.copy(ROOT / "feeds.yaml", tmp_path / "feeds.yaml")
    return tmp_path


def check(folder: Path) -> Result:
    return CliRunner().invoke(main, ["check", "--config", str(folder / "feeds.yaml")])


def test_help() -> None:
    result = CliRunner().invoke(main, ["check", "--help"])
    assert result.exit_code == 0 and "--config" in result.output and "demo issue" in result.output


def test_the_shipped_setup_passes(project: Path) -> None:
    result = check(project)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("OK    settings")
    assert any(
        line.startswith("OK    ") and "feeds.yaml" in line and "valid" in line for line in lines
    )
    assert "OK    templates/email/issue.html: compiles" in lines
    assert "OK    templates/email/sections/financing.html: compiles" in lines
    demo = next(line for line in lines if "demo issue" in line)
    assert demo.startswith("OK    demo issue: ") and "items in" in demo and "bytes of HTML" in demo
    assert lines[-1] == "All checks passed"


def test_template_syntax_error_names_file_and_line(project: Path) -> None:
    partial = project / "templates" / "email" / "sections" / "events.html"
    partial.write_text(partial.read_text(encoding="utf-8") + "\n{% if %}\n", encoding="utf-8")
    result = check(project)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and errors[0].startswith(
        "ERROR templates/email/sections/events.html, line "
    )
    assert "demo issue" not in result.output  # not rendered with a broken template
    assert "1 problem(s) found" in result.output


@pytest.mark.parametrize(
    ("inserted", "expected"),
    [
        ("{{ 1 // 0 }}", "ZeroDivisionError"),
        ("{{ no_such_variable.x }}", "'no_such_variable' is undefined"),
        ("{{ cycler.__init__.__globals__ }}", "refused by the sandbox"),
    ],
)
def test_template_runtime_error_fails_the_demo_render_with_file_and_line(
    project: Path, inserted: str, expected: str
) -> None:
    partial = project / "templates" / "email" / "sections" / "_item.html"
    lines = partial.read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join([lines[0], inserted, *lines[1:]]), encoding="utf-8")
    result = check(project)
    assert result.exit_code == 1
    (error,) = [line for line in result.output.splitlines() if line.startswith("ERROR")]
    assert error.startswith("ERROR demo issue: template sections/_item.html, line 2")
    assert expected in error


def test_invalid_feeds_yaml_names_file_and_line(project: Path) -> None:
    config = project / "feeds.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("  title:", "  titel:", 1), encoding="utf-8"
    )
    result = check(project)
    assert result.exit_code == 1
    assert "did you mean 'title'?" in result.output and "(line " in result.output
    assert "templates/" not in result.output  # the templates folder is not known


def test_run_checks_reports_bad_settings_and_goes_on(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_SMTP_TLS", "maybe")
    report = run_checks(project / "feeds.yaml")
    assert not report.ok
    assert report.lines[0].subject == "settings" and "NEWSLETTER_SMTP_TLS" in report.lines[0].detail
    assert any(line.subject == "demo issue" and line.ok for line in report.lines)


def test_local_addresses_are_warned_about_not_failed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What works on the editor's machine but not as meant: a feed on a local address that
    ingest will refuse, and localhost links in mail sent by smtp. Warnings, exit code 0."""
    import yaml

    config = project / "feeds.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    section = data["sections"][0]["id"]
    data["feeds"] = [
        {"name": "Mine", "url": "http://127.0.0.1:8765/feed.xml", "section": section},
        {
            "name": "RSSHub",
            "url": "http://10.0.0.5/route",
            "section": section,
            "allow_private": True,
        },
        {
            "name": "Laptop",
            "url": "http://localhost:1200/feed",
            "section": section,
            "enabled": False,
        },
        {"name": "Public", "url": "https://www.statnews.com/feed/", "section": section},
    ]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = check(project)
    assert result.exit_code == 0 and "All checks passed" in result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("WARN")]
    assert warnings == [
        "WARN  feed 'Mine': 127.0.0.1 is a local address: `newsletter ingest` refuses it unless "
        "the feed has allow_private: true (or NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true)"
    ]

    monkeypatch.setenv("NEWSLETTER_MAIL_TRANSPORT", "smtp")
    monkeypatch.setenv("NEWSLETTER_SMTP_HOST", "smtp.example.com")
    result = check(project)
    assert result.exit_code == 0
    assert "WARN  settings: NEWSLETTER_BASE_URL is http://localhost:8000 and mail goes out" in (
        result.output
    )
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://news.example.com")
    monkeypatch.setenv("NEWSLETTER_ALLOW_PRIVATE_ADDRESSES", "true")
    report = run_checks(config)
    assert report.ok and not [line for line in report.lines if line.warning]
