"""Each configured feed's health for the workbench's feed page: its settings from feeds.yaml
beside its polling state (last success, last error, failures) and what it brought lately
(items per week, the share the reading left out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter.config import FeedConfig
from newsletter.service.app import App
from newsletter.service.feededits import feeds_version
from newsletter.storage.db import session_scope
from newsletter.storage.queries import feeds, items

WEEKS = 4  # items per week and the left-out share are over the last four weeks


@dataclass(frozen=True)
class FeedHealthRow:
    """One feed as the workbench lists it."""

    config: FeedConfig
    status: str  # never, ok, not_modified, error; "disabled" (feeds.yaml) or "stopped" (polling)
    last_success_at: datetime | None
    last_fetched_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    stopped_reason: str | None  # disabled by polling: 410 Gone, too many failures
    recent_items: int  # published in the last WEEKS weeks
    left_out: int  # of those, left out by the reading (no section)

    @property
    def items_per_week(self) -> float:
        """Items a week over the last WEEKS weeks."""
        return self.recent_items / WEEKS

    @property
    def left_out_share(self) -> float | None:
        """The share of recent items the reading left out (None without recent items)."""
        return self.left_out / self.recent_items if self.recent_items else None


@dataclass(frozen=True)
class FeedsOverview:
    """The feed page: every configured feed in feeds.yaml order, and the file's version."""

    rows: list[FeedHealthRow]
    version: str
    sections: list[tuple[str, str]]  # (id, title)
    path: str


def feeds_overview(app: App, now: datetime) -> FeedsOverview:
    """Every configured feed with its health, in feeds.yaml's order (feeds.yaml read again
    first when it changed on disk)."""
    app.reload_config_if_changed()
    config = app.config
    with session_scope(app.engine) as session:
        stored = {f.name: f for f in feeds.all_feeds(session)}
        stats = items.feed_item_stats(session, now - timedelta(weeks=WEEKS))
    rows = []
    for cfg in config.feeds:
        row = stored.get(cfg.name)
        total, left = stats.get(row.id or 0, (0, 0)) if row is not None else (0, 0)
        if not cfg.enabled:
            status = "disabled"
        elif row is not None and row.auto_disabled_at is not None:
            status = "stopped"
        else:
            status = row.last_status if row is not None else "never"
        rows.append(
            FeedHealthRow(
                config=cfg,
                status=str(status),
                last_success_at=row.last_success_at if row else None,
                last_fetched_at=row.last_fetched_at if row else None,
                last_error=row.last_error if row else None,
                consecutive_failures=row.consecutive_failures if row else 0,
                stopped_reason=row.auto_disabled_reason if row else None,
                recent_items=total,
                left_out=left,
            )
        )
    return FeedsOverview(
        rows=rows,
        version=feeds_version(app),
        sections=[(s.id, s.title) for s in config.sections],
        path=config.path.name,
    )


__all__ = ["WEEKS", "FeedHealthRow", "FeedsOverview", "feeds_overview"]
