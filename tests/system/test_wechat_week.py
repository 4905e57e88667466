"""The real WeChat week (../shared/corpus/wechat: 252 accounts of Chinese healthcare, pharma and
investment media, titles only) served over loopback HTTP, ingested and built into the issue of
2021-W25 with the repository's feeds.yaml rules and the shipped model. Judged against the blind
labels in tests/data/labels (docs/labelling.md): what is shown must be on topic, and no title
may be printed twice (as a summary or a key point)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsletter.config import Settings
from newsletter.demo.server import FeedServer, Route
from newsletter.service.app import open_app
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from tests.conftest import ROOT

WECHAT = ROOT.parent / "shared" / "corpus" / "wechat" / "feeds"
LABELS = ROOT / "tests" / "data" / "labels"
SNAPSHOT = datetime(2021, 6, 20, 12, 0, tzinfo=timezone(timedelta(hours=8)))
SHOWN_RELEVANT = 0.90


def _labels() -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for name in (
        "wechat_week.jsonl",
        "wechat_before_A.jsonl",
        "wechat_before_B.jsonl",
        "wechat_rest.jsonl",
    ):
        for line in (LABELS / name).read_text(encoding="utf-8").splitlines():
            if line:
                row = json.loads(line)
                rows[row["link"]] = row
    return rows


def _normal(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@pytest.mark.slow
def test_the_wechat_week_reads_on_topic_without_repeated_titles(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    if not WECHAT.is_dir():
        pytest.skip(f"WeChat corpus not found at {WECHAT} (../shared is absent)")
    files = sorted(WECHAT.glob("*.xml"))
    assert len(files) == 252
    for path in files:
        feed_server.routes[f"/{path.name}"] = Route(path.read_bytes(), "application/rss+xml")
    config = yaml.safe_load((ROOT / "feeds.yaml").read_text(encoding="utf-8"))
    config["newsletter"]["templates"] = str(ROOT / "templates")
    config["newsletter"]["fetch_articles"] = False  # mp.weixin.qq.com is not reachable here
    config["feeds"] = [
        {
            "name": p.stem,
            "url": feed_server.url(f"/{p.name}"),
            "section": "industry",
            "language": "zh",
        }
        for p in files
    ]
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'week.db'}",
        allow_private_addresses=True,
        secret_key="test-secret",
        parse_workers=2,
    )
    app = open_app(settings, path)
    try:
        report = ingest(app, now=SNAPSHOT)
        assert not report.failed, [o.error for o in report.failed][:3]
        period = resolve_period(app, week="2021-W25", now=SNAPSHOT)
        built = build_issue(app, period, force=True)
    finally:
        app.engine.dispose()
    content = built.content
    shown = [(s.id, i) for s in content.sections for i in s.items]
    assert len(shown) >= 20, content.skipped_reason
    labels = _labels()
    judged = [(sid, i, labels[i.url]) for sid, i in shown if i.url in labels]
    assert len(judged) == len(shown), "every shown item of the week is labelled"
    relevant = sum(1 for _, _, label in judged if label["relevant"])
    share = relevant / len(judged)
    off = [
        (sid, i.title, label["reason_if_not_relevant"])
        for sid, i, label in judged
        if not label["relevant"]
    ]
    print(
        f"2021-W25: {len(judged)} shown, {relevant} on topic ({share:.3f}), left out {content.left_out}: {content.left_out_reasons[:4]}; off-topic shown: {off}"
    )
    assert share >= SHOWN_RELEVANT, f"{share:.2f} of shown items on topic; off-topic: {off}"
    assert content.left_out > 0 and content.left_out_reasons
    for _, item in shown:
        # Title-only feeds: no summary that repeats the title, no key point made of the title.
        assert not item.summary or _normal(item.title) not in _normal(item.summary)
        for point in item.key_points:
            assert _normal(point["text"]) not in _normal(item.title)
        assert item.brief is None  # no body text: no core insights either
    assert built.rendered is not None
    # The text part, as a reader sees it: each title once (the HTML's hidden preheader repeats
    # the first titles for the inbox preview, which is not the body).
    text = built.rendered.text
    for _, item in shown:
        assert text.count(item.title) == 1, item.title
    out = os.environ.get("NEWSLETTER_TEST_KEEP_ISSUE")
    if out:  # for a look (a screenshot) at the issue this test built
        Path(out).write_text(built.rendered.html, encoding="utf-8")
