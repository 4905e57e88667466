"""The offline demo: real .eml files with both parts, the list headers and all six sections."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import Settings
from newsletter.demo.samples import load_samples, render_samples
from newsletter.service.app import open_app
from newsletter.service.skeleton import SKELETON
from newsletter.web import create_app
from tests.conftest import ROOT
from tests.web_helpers import TestClient

SECTION_TITLES = [
    "This week's hot topics 本周热点",
    "Headlines 要闻",
    "Financing events 投融资",
    "Event preview 会议活动",
    "Industry updates 产业动态",
    "In-depth report 深度报告",
]


def test_samples_are_realistic_and_large_enough() -> None:
    feeds = load_samples()
    assert len(feeds) >= 6 and sum(len(f["items"]) for f in feeds) >= 60
    assert {f["language"] for f in feeds} == {"en", "zh"}
    from datetime import UTC, datetime

    rendered = render_samples(datetime.now(UTC))
    assert any(s.encoding == "gb2312" for s in rendered)
    assert all(b"{date+" not in s.body and b"{days:" not in s.body for s in rendered)


def test_demo_writes_eml_files_and_a_preview(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {
        "NEWSLETTER_DATA_DIR": str(tmp_path / "unused"),
        "NEWSLETTER_DATABASE_URL": "",
        "NEWSLETTER_CONFIG": "",
    }
    result = CliRunner().invoke(
        main, ["demo", "--config", str(ROOT / "feeds.yaml"), "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    emls = sorted((out / "outbox").glob("*.eml"))
    assert len(emls) == 3
    recipients = set()
    editions = {}
    for path in emls:
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        recipients.add(msg["To"].addresses[0].addr_spec)
        # multipart/alternative (text, then HTML); events carry "Add to calendar" links to
        # their hosted .ics files instead of one attachment each (newsletter.calendar_attachments).
        assert msg.get_content_type() == "multipart/alternative"
        text_part, html_part = msg.iter_parts()
        assert (text_part.get_content_type(), html_part.get_content_type()) == (
            "text/plain",
            "text/html",
        )
        text, html = text_part.get_content(), html_part.get_content()
        assert re.search(r"/archive/\d{4}-W\d\d/events/\d+\.ics", text)
        assert "Add to calendar" in html or "添加到日历" in html
        for header in (
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "List-Id",
            "Subject",
            "Date",
        ):
            assert msg[header], header
        editions[msg["To"].addresses[0].addr_spec] = (str(msg["Subject"]), text, html)
        assert "%%" not in html and "%%" not in text
        assert "/unsubscribe/" in html
    assert "zhang.wei@example.cn" in recipients
    # The whole bilingual issue, the English edition and the Chinese edition.
    subject, text, html = editions["dr.li@example.org"]
    assert "Healthcare Industry Weekly" in subject and 'lang="en"' in html
    for title in SECTION_TITLES:
        assert title in html and title in text
    subject, text, html = editions["reader.one@example.com"]
    assert "Healthcare Industry Weekly" in subject and "== Headlines ==" in text
    assert "要闻" not in text and "本周热点" not in html
    subject, text, html = editions["zhang.wei@example.cn"]
    assert subject.startswith("医疗产业周报 · 第") and '<html lang="zh">' in html
    assert "== 投融资 ==" in text and "退订：http" in text
    for english in (
        "Unsubscribe",
        "View in browser",
        "stories",
        "Series ",
        "Financing events",
        "Core insights",
    ):
        assert english not in text, english
    # the in-depth reports' core insights, under a Chinese label in the Chinese edition
    assert "核心观点" in text and "核心观点" in html and "Core insights" not in html
    assert "Core insights" in editions["reader.one@example.com"][1]
    issue = json.loads((out / "issue.json").read_text(encoding="utf-8"))
    assert all(section["items"] for section in issue["sections"])
    reports = next(s for s in issue["sections"] if s["id"] == "reports")
    assert any(item["brief"] and len(item["brief"]["groups"]) >= 2 for item in reports["items"])
    assert len(issue["sections"]) == 6
    preview = (out / "preview.html").read_text(encoding="utf-8")
    assert "<html" in preview and "style=" in preview
    assert (tmp_path / "unused").exists() is False
    # The key points came from the sample articles the demo's server served, but no link leads
    # to that server, which stopped with the demo: every story keeps its own site's link.
    served = re.search(r"Serving \d+ sample feeds on (http://127\.0\.0\.1:\d+)", result.output)
    assert served is not None
    assert "Fetched 12 sample articles" in result.output
    assert all(item["key_points_source"] == "article" for item in reports["items"])
    assert all(item["url"].startswith("https://") for item in reports["items"])
    written = [preview, (out / "preview.txt").read_text(encoding="utf-8")]
    written += [text for _subject, text, _html in editions.values()]
    written += [html for _subject, _text, html in editions.values()]
    for part in written:
        assert served.group(1) not in part and "/articles/" not in part

    # The web app the demo's last line names serves what the emails link to: the issue in the
    # browser, its calendar files, and the click redirect to the story's own link.
    shown = re.search(
        r"Web app: NEWSLETTER_DATA_DIR=(\S+) NEWSLETTER_DATABASE_URL=(\S+) "
        r"newsletter serve --config (\S+)\s+then open (\S+)",
        result.output,
    )
    assert shown is not None, result.output
    data_dir, database_url, config, archive = shown.groups()
    settings = Settings(data_dir=Path(data_dir), database_url=database_url)
    app = open_app(settings, Path(config))
    try:
        client = TestClient(create_app(app), follow_redirects=False)
        base = settings.base_url
        page = client.get(archive.removeprefix(base))
        assert page.status_code == 200 and reports["items"][0]["title"] in page.text
        subject, text, html = editions["dr.li@example.org"]
        ics = re.search(r"(/archive/\d{4}-W\d\d/events/\d+\.ics)", text)
        assert ics is not None
        calendar = client.get(ics.group(1))
        assert calendar.status_code == 200 and "BEGIN:VEVENT" in calendar.text
        clicks = re.findall(rf'href="{re.escape(base)}(/c/[^"]+)"', html)
        targets = []
        for path in clicks[:12]:
            redirect = client.get(path)
            assert redirect.status_code == 302
            targets.append(redirect.headers["location"])
        assert any(re.match(r"https://[a-z-]+\.example\.(com|cn)/", t) for t in targets)
    finally:
        app.engine.dispose()


def test_demo_runs_anywhere_with_the_starter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a feeds.yaml (a `pip install` in an empty folder), the demo uses what
    `newsletter init` would write; a feeds.yaml named but missing is an error, and no folder
    is left behind."""
    monkeypatch.chdir(tmp_path)
    env = {"NEWSLETTER_CONFIG": None, "NEWSLETTER_DATA_DIR": None, "NEWSLETTER_DATABASE_URL": None}
    named = CliRunner().invoke(main, ["demo", "--config", "nope.yaml", "--out", "named"], env=env)
    assert named.exit_code == 1 and "nope.yaml: file not found" in named.output
    assert not (tmp_path / "named").exists()

    result = CliRunner().invoke(main, ["demo", "--out", "demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "No feeds.yaml here: the demo uses the starter's sections" in result.output
    assert len(list((tmp_path / "demo" / "outbox").glob("*.eml"))) == 3
    issue = json.loads((tmp_path / "demo" / "issue.json").read_text(encoding="utf-8"))
    starter = yaml.safe_load((SKELETON / "feeds.yaml").read_text(encoding="utf-8"))
    assert [s["title"] for s in issue["sections"]] == [s["title"] for s in starter["sections"]]
    assert all(s["items"] for s in issue["sections"])
    assert not (tmp_path / "feeds.yaml").exists()  # nothing written outside --out
