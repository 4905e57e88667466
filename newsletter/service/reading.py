"""Apply the editorial reading (relevance, facts and section) with the current feeds.yaml.

The reading model is the local one `newsletter model train` made (``<data dir>/models``), else
the one shipped in the package; ``topic: use_model: false`` in feeds.yaml turns it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from newsletter.config import Config, FeedConfig
from newsletter.domain.editorial.feedrules import FeedRules
from newsletter.errors import ModelError
from newsletter.learning.store import ModelStore, load_model, shipped_path

if TYPE_CHECKING:
    from newsletter.domain.editorial.classify import Reading, ReadingRules
    from newsletter.domain.editorial.textmodel import ReadingModel
    from newsletter.service.app import App

# The detectors (newsletter.domain.editorial.classify, hundreds of regular expressions) are
# imported where an item is read: `newsletter ingest` reads in its parsing processes, so its
# own process starts without them.


def model_store(app: App) -> ModelStore:
    """The installation's local models."""
    return ModelStore(app.settings.data_dir / "models")


def model_path(app: App) -> Path | None:
    """The model file the reading uses (None: the model is turned off in feeds.yaml)."""
    if not app.config.topic.use_model:
        return None
    return model_store(app).current_path()


def checked_model(path: Path) -> ReadingModel:
    """The model file, or a ModelError that says how to get a working one back."""
    try:
        return load_model(path)
    except ModelError as exc:
        hint = (
            "reinstall the package"
            if path == shipped_path()
            else "`newsletter model rollback` goes back to the previous model"
        )
        raise ModelError(f"{exc}; {hint}") from exc


def reading_rules(config: Config, path: Path | None) -> ReadingRules:
    """Sections, topic and model: what every item's reading shares (cached model file)."""
    from newsletter.domain.editorial.classify import ReadingRules

    return ReadingRules(config.rule_order, config.topic, checked_model(path) if path else None)


def feed_rules(feed: FeedConfig | None, name: str, section: str) -> FeedRules:
    """The feed's part of the reading (a feed gone from feeds.yaml keeps its stored section)."""
    if feed is None:
        return FeedRules(name, section)
    return FeedRules(feed.name, feed.section, feed.report, feed.include, feed.exclude)


def read_with(
    rules: ReadingRules,
    feed: FeedRules,
    title: str,
    summary: str,
    lang: str,
    published: datetime,
    tz: tzinfo,
) -> Reading:
    """The reading of one item; the publication date is read in the newsletter's timezone."""
    from newsletter.domain.editorial.classify import read_item

    return read_item(title, summary, lang, published.astimezone(tz).date(), feed, rules)


def read_feed_items(
    rules: ReadingRules,
    feed: FeedRules,
    texts: Sequence[tuple[str, str, str, datetime]],
    tz: tzinfo,
) -> list[Reading]:
    """The readings of several items of one feed (title, summary, language, published)."""
    from newsletter.domain.editorial.classify import ItemText, read_items

    items = [ItemText(t, s, lang, p.astimezone(tz).date()) for t, s, lang, p in texts]
    return read_items(items, feed, rules)


def read(
    app: App,
    title: str,
    summary: str,
    lang: str,
    published: datetime,
    feed_name: str,
    feed_section: str,
) -> Reading:
    """The reading of one item with the app's configuration and model."""
    rules = reading_rules(app.config, model_path(app))
    feed = feed_rules(app.feeds_by_name.get(feed_name), feed_name, feed_section)
    return read_with(rules, feed, title, summary, lang, published, app.config.newsletter.tz)
