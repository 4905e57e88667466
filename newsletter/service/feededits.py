"""Changing the feed list from the workbench: add, edit, disable and enable a feed, and import
an uploaded OPML file. feeds.yaml stays the source of truth: each change is checked field by
field, then by the loader of `newsletter check`, and written with a backup
(newsletter.config.writing); the running app and the feed table see it at once, and the
next ingest (which reads feeds.yaml again) polls accordingly."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from newsletter.config import Config, FeedConfig
from newsletter.config.writing import (
    Scalar,
    StaleConfigError,
    add_feeds,
    change_feeds,
    edit_feed_text,
    read_feeds_file,
)
from newsletter.errors import ConfigError
from newsletter.service.app import App
from newsletter.service.feedlist import OpmlImport, plan_import
from newsletter.storage.db import session_scope
from newsletter.storage.queries import feeds

log = logging.getLogger(__name__)

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
FORM_FIELDS = ("name", "url", "section", "language", "weight")
DEFAULTS: dict[str, Scalar] = {"language": "en", "weight": 1.0}


class FeedFormError(ConfigError):
    """A feed form value that cannot be used; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class FeedForm:
    """A feed as typed in the workbench's form (text, checked by `checked_entry`)."""

    name: str
    url: str
    section: str
    language: str = "en"
    weight: str = "1"


@dataclass(frozen=True)
class FeedChange:
    """One change to the feed list made in the workbench, as the feed page lists it: the feed
    (its name then), what was done, the details, the account and when."""

    feed: str
    action: str  # added, changed, disabled, enabled, imported
    note: str | None = None
    actor: str | None = None
    at: datetime | None = None


RECENT_CHANGES = 20  # the feed page lists this many


def recent_feed_changes(app: App, limit: int = RECENT_CHANGES) -> list[FeedChange]:
    """The latest changes to the feed list made in the workbench, newest first."""
    with session_scope(app.engine) as session:
        return [
            FeedChange(row.feed, row.action, row.note, row.actor, row.created_at)
            for row in feeds.recent_feed_actions(session, limit)
        ]


def feeds_version(app: App) -> str:
    """The version of feeds.yaml that forms carry back (a stale form is refused)."""
    return read_feeds_file(app.config.path).version


def checked_entry(config: Config, form: FeedForm, editing: str | None = None) -> dict[str, Scalar]:
    """The feeds.yaml values of a form, each checked with an error naming its field: the name
    unique (other than the feed being edited), the URL http(s) and not used by another feed,
    a known section, a language code, a weight from 0 to 100."""
    others = [f for f in config.feeds if f.name != editing]
    name = " ".join(form.name.split())
    if not name:
        raise FeedFormError("name", "enter a name (readers see it as the source)")
    if len(name) > 200:
        raise FeedFormError("name", "at most 200 characters")
    clash = next((f.name for f in others if f.name.casefold() == name.casefold()), None)
    if clash is not None:
        raise FeedFormError("name", f"a feed named {clash!r} exists already; choose another name")
    url = form.url.strip()
    if not url:
        raise FeedFormError("url", "enter the feed's address (http or https)")
    same = next((f.name for f in others if f.url.strip() == url), None)
    if same is not None:
        raise FeedFormError("url", f"feed {same!r} already has this address")
    section = form.section.strip()
    if section not in config.section_ids:
        raise FeedFormError(
            "section", f"{section!r} is not one of the sections ({', '.join(config.section_ids)})"
        )
    language = form.language.strip() or "en"
    if not LANGUAGE.match(language):
        raise FeedFormError("language", f"{language!r} is not a language code like en or zh")
    try:
        weight = float(form.weight.strip() or "1")
    except ValueError as exc:
        raise FeedFormError("weight", f"{form.weight!r} is not a number") from exc
    if not math.isfinite(weight) or not 0 <= weight <= 100:
        raise FeedFormError("weight", "must be a number from 0 to 100")
    entry: dict[str, Scalar] = {
        "name": name,
        "url": url,
        "section": section,
        "language": language,
        "weight": weight,
    }
    try:
        FeedConfig.model_validate(entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "url"
        raise FeedFormError(field, first["msg"].removeprefix("Value error, ")) from exc
    return entry


def _applied(
    app: App,
    config: Config,
    actor: str,
    changes: Sequence[FeedChange],
    renamed: tuple[str, str] | None = None,
) -> None:
    """The new feeds.yaml in use in this process, the feed table in step with it (a renamed
    feed keeps its items and polling state), and the changes logged with the account."""
    app.replace_config(config)
    with session_scope(app.engine) as session:
        if renamed is not None:
            feeds.rename_feed(session, *renamed)
        feeds.sync_feed_table(session, config.feeds)
        for change in changes:
            feeds.record_feed_action(session, change.feed, change.action, change.note, actor)


def add_feed(app: App, form: FeedForm, expected_version: str, actor: str) -> FeedConfig:
    """Add a feed to feeds.yaml (StaleConfigError when the file changed since the form)."""
    app.reload_config_if_changed()
    entry = checked_entry(app.config, form)
    compact = {k: v for k, v in entry.items() if DEFAULTS.get(k, object()) != v}
    config = add_feeds(app.config.path, [dict(compact)], expected_version)
    note = f"{entry['url']} in {entry['section']}"
    _applied(app, config, actor, [FeedChange(str(entry["name"]), "added", note)])
    log.info("feeds.yaml: feed %r added by %s", entry["name"], actor)
    return config.feed(str(entry["name"]))


def edit_feed(app: App, name: str, form: FeedForm, expected_version: str, actor: str) -> FeedConfig:
    """Change a feed's name, address, section, language or weight in feeds.yaml: only the
    changed values are rewritten, in place."""
    app.reload_config_if_changed()
    current = _feed(app.config, name)
    entry = checked_entry(app.config, form, editing=name)
    before: dict[str, Scalar] = {
        "name": current.name,
        "url": current.url,
        "section": current.section,
        "language": current.language,
        "weight": current.weight,
    }
    changes = {k: v for k, v in entry.items() if before[k] != v}
    if not changes:
        return current
    config = _write(app, name, changes, expected_version)
    new_name = str(entry["name"])
    note = "; ".join(f"{key}: {before[key]} → {value}" for key, value in changes.items())
    change = FeedChange(new_name, "changed", note)
    _applied(app, config, actor, [change], (name, new_name) if new_name != name else None)
    log.info("feeds.yaml: feed %r changed by %s (%s)", name, actor, ", ".join(sorted(changes)))
    return config.feed(new_name)


def set_feed_enabled(
    app: App, name: str, enabled: bool, expected_version: str, actor: str
) -> FeedConfig:
    """Disable a feed (it is no longer polled and its items leave the coming issues) or
    enable it again: ``enabled:`` in feeds.yaml."""
    app.reload_config_if_changed()
    current = _feed(app.config, name)
    if current.enabled == enabled:
        return current
    config = _write(app, name, {"enabled": enabled}, expected_version)
    _applied(app, config, actor, [FeedChange(name, "enabled" if enabled else "disabled")])
    log.info("feeds.yaml: feed %r %s by %s", name, "enabled" if enabled else "disabled", actor)
    return config.feed(name)


def import_opml_upload(
    app: App, data: bytes, section: str | None, expected_version: str, actor: str
) -> OpmlImport:
    """Add the new feeds of an uploaded OPML file (as `newsletter feeds import`)."""
    app.reload_config_if_changed()
    if section is not None and section not in app.config.section_ids:
        raise FeedFormError(
            "section",
            f"{section!r} is not one of the sections ({', '.join(app.config.section_ids)})",
        )
    report, entries = plan_import(app.config, data, section, source="the uploaded file")
    if entries:
        config = add_feeds(app.config.path, entries, expected_version)
        imported = [
            FeedChange(feed.name, "imported", f"{feed.url} in {feed.section}, from OPML")
            for feed in report.added
        ]
        _applied(app, config, actor, imported)
        log.info("feeds.yaml: %d feed(s) imported from OPML by %s", len(entries), actor)
    return report


def _feed(config: Config, name: str) -> FeedConfig:
    for feed in config.feeds:
        if feed.name == name:
            return feed
    raise FeedFormError("name", f"there is no feed named {name!r} (any more); reload the page")


def _write(app: App, name: str, changes: dict[str, Scalar], expected_version: str) -> Config:
    """Write the changes of one feed, once the new file is known to say what was asked."""
    new_name = str(changes.get("name", name))

    def took(config: Config) -> None:
        written = config.feed(new_name)
        for key, value in changes.items():
            if getattr(written, key) != value:  # a YAML merge key or anchor says otherwise
                raise ConfigError(
                    f"{config.path.name}: feed {name!r}, field {key!r} would not take the new "
                    "value; edit the file by hand"
                )

    config, _ = change_feeds(
        app.config.path,
        expected_version,
        lambda text: edit_feed_text(text, name, changes),
        took,
    )
    return config


__all__ = [
    "FORM_FIELDS",
    "RECENT_CHANGES",
    "FeedChange",
    "FeedForm",
    "FeedFormError",
    "StaleConfigError",
    "add_feed",
    "checked_entry",
    "edit_feed",
    "feeds_version",
    "import_opml_upload",
    "recent_feed_changes",
    "set_feed_enabled",
]
