"""The reading learns from the editor: drops become labels, `model train` moves similar unseen
items out, `model rollback` brings the previous decisions back. Real HTTP feed on loopback, real
database, the shipped model and training data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.service import model as models
from newsletter.service.catalog import list_items
from newsletter.service.editing import change_item
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from tests.helpers import rss

NOW = datetime.now(UTC)

# One kind of item this newsletter's editor does not want: pet and veterinary clinics.
DROPPED = [
    "Pet clinic chain opens 20th location in Texas",
    "VetCare animal hospital opens new clinic in Ohio",
    "宠物医院连锁品牌新店开业",
    "宠物医疗连锁品牌完成新一轮扩张",
    "PawsFirst veterinary hospital adds MRI suite for dogs",
    "宠物医院推出猫咪体检套餐",
    "Animal hospital group acquires three vet practices in Florida",
    "宠物诊所连锁上线线上问诊",
]
# The same kind, never seen by the editor.
UNSEEN = [
    "Vet clinic chain PetWell opens flagship animal hospital in Denver",
    "宠物医院品牌新开十家门店",
]
# What the newsletter is about: these must stay.
KEPT = [
    "FDA approves first oral GLP-1 pill for adults",
    "恒瑞医药PD-1新适应症获批上市",
    "国家医保局公布新版医保药品目录调整结果",
]


@pytest.mark.slow
def test_drops_teach_the_model_and_rollback_undoes_it(
    make_app: Any, feed_server: FeedServer
) -> None:
    period = resolve_period(make_app(), now=NOW, due=True)
    when = min(period.end - timedelta(days=1), NOW - timedelta(hours=1))
    titles = DROPPED + UNSEEN + KEPT
    items = [(t, f"g{n}", when - timedelta(minutes=n)) for n, t in enumerate(titles)]
    feed_server.routes["/mixed.xml"] = Route(rss(items), "application/rss+xml")
    feed = {"name": "Mixed", "url": feed_server.url("/mixed.xml"), "section": "industry"}
    app = make_app(feeds=[feed], newsletter={"min_items": 1})
    ingest(app)
    stored = {row.title: row for row in list_items(app)}
    assert all(stored[t].relevant for t in UNSEEN + KEPT), "the shipped model keeps them"

    for title in DROPPED:
        change_item(app, period, "drop", stored[title].id or 0, note="not our readers")
    result = models.train(app)
    assert result.installed, result.reason
    assert result.examples["editor"] == len(DROPPED)

    after = {row.title: row for row in list_items(app)}
    for title in UNSEEN:
        assert not after[title].relevant, f"{title!r} still kept ({after[title].relevance})"
        assert after[title].section_reason.startswith("not relevant (score")
    assert all(after[t].relevant for t in KEPT)
    content = build_issue(app, period).content
    assert content.left_out >= len(UNSEEN)
    # Left out by the model (not merely capped: the reasons count them as "not relevant").
    assert dict((r, n) for r, n in content.left_out_reasons)["not relevant"] >= len(UNSEEN)
    assert not set(UNSEEN) & {i.title for s in content.sections for i in s.items}

    back = models.rollback(app)
    assert back.shipped
    restored = {row.title: row for row in list_items(app)}
    assert all(restored[t].relevant for t in UNSEEN + KEPT)


def test_status_shows_a_zero_threshold_override(make_app: Any, tmp_path: Any) -> None:
    import yaml

    app = make_app()
    raw = yaml.safe_load(app.config.path.read_text(encoding="utf-8"))
    raw["topic"] = {"relevance_threshold": 0.0}
    app.config.path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    from newsletter.service.app import open_app

    edited = open_app(app.settings, app.config.path)
    try:
        assert models.status(edited).threshold == 0.0
        assert models.status(app).threshold == models.status(app).model.threshold > 0.0
    finally:
        edited.engine.dispose()
