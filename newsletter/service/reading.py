"""Apply the editorial reading (facts and section) with the current feeds.yaml."""

from __future__ import annotations

from datetime import datetime

from newsletter.domain.editorial.classify import Reading, read_item
from newsletter.service.app import App


def read(
    app: App,
    title: str,
    summary: str,
    lang: str,
    published: datetime,
    feed_name: str,
    feed_section: str,
) -> Reading:
    """Facts and section of one item; the publication date is read in the newsletter's timezone."""
    feed = app.feeds_by_name.get(feed_name)
    return read_item(
        title,
        summary,
        lang,
        published.astimezone(app.config.newsletter.tz).date(),
        feed_name,
        feed.section if feed else feed_section,
        feed.report if feed else False,
        app.config.rule_order,
    )
