"""The feed list as OPML: export the configured feeds, import a feed reader's OPML into
feeds.yaml (validated, backed up, written atomically; see newsletter.config.writing)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from newsletter.config import Config, FeedConfig
from newsletter.config.opml import OpmlFeed, read_opml, write_opml
from newsletter.config.writing import BACKUP_SUFFIX, add_feeds
from newsletter.errors import ConfigError

_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class ImportedFeed:
    """A feed the import added to feeds.yaml."""

    name: str
    url: str
    section: str


@dataclass(frozen=True)
class SkippedFeed:
    """An outline the import left out, and why."""

    title: str
    url: str
    reason: str


@dataclass
class OpmlImport:
    """What an OPML import did (or, with ``dry_run``, would do)."""

    added: list[ImportedFeed] = field(default_factory=list)
    skipped: list[SkippedFeed] = field(default_factory=list)
    backup: Path | None = None


def export_opml(config: Config, now: datetime) -> str:
    """The configured feeds as an OPML 2.0 document."""
    return write_opml(config, now)


def _section_for(config: Config, outline: OpmlFeed, default: str) -> str:
    """The innermost folder naming a section (by id or title, any case), else ``default``."""
    names = {s.id.casefold(): s.id for s in config.sections}
    names.update({s.title.casefold(): s.id for s in config.sections})
    for hint in (*reversed(outline.categories), *reversed(outline.folders)):
        section = names.get(hint.strip().casefold())
        if section:
            return section
    return default


def _unique_name(title: str, taken: set[str]) -> str:
    name = title[:200]
    number = 2
    while name.casefold() in taken:
        name = f"{title[:190]} ({number})"
        number += 1
    return name


def plan_import(
    config: Config, data: bytes, default_section: str | None = None, source: str = "OPML"
) -> tuple[OpmlImport, list[dict[str, object]]]:
    """Which outlines become feeds (with their feeds.yaml entries) and which are skipped."""
    default = default_section or config.sections[0].id
    if default not in config.section_ids:
        raise ConfigError(
            f"--section {default!r} is not one of the sections ({', '.join(config.section_ids)})"
        )
    report = OpmlImport()
    entries: list[dict[str, object]] = []
    urls = {f.url.strip() for f in config.feeds}
    names = {f.name.casefold() for f in config.feeds}
    for outline in read_opml(data, source):
        if outline.url in urls:
            report.skipped.append(SkippedFeed(outline.title, outline.url, "already configured"))
            continue
        section = _section_for(config, outline, default)
        name = _unique_name(outline.title, names)
        entry: dict[str, object] = {"name": name, "url": outline.url, "section": section}
        if outline.language and _LANGUAGE.match(outline.language):
            entry["language"] = outline.language.lower()
        try:
            FeedConfig.model_validate(entry)
        except ValidationError as exc:
            reason = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
            report.skipped.append(SkippedFeed(outline.title, outline.url, reason))
            continue
        urls.add(outline.url)
        names.add(name.casefold())
        entries.append(entry)
        report.added.append(ImportedFeed(name, outline.url, section))
    return report, entries


def import_opml(
    config: Config,
    data: bytes,
    default_section: str | None = None,
    dry_run: bool = False,
    source: str = "OPML",
) -> OpmlImport:
    """Add the OPML's new feeds to feeds.yaml (at ``config.path``); outlines whose URL is
    already configured, or that would not validate, are skipped with the reason."""
    report, entries = plan_import(config, data, default_section, source)
    if entries and not dry_run:
        add_feeds(config.path, entries)
        report.backup = config.path.with_name(config.path.name + BACKUP_SUFFIX)
    return report


__all__ = [
    "ImportedFeed",
    "OpmlImport",
    "SkippedFeed",
    "export_opml",
    "import_opml",
    "plan_import",
]
