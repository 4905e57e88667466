"""The text of real feeds once parsed (../shared/corpus, skipped when absent): no summary that
only repeats its title."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsletter.domain.text import summary_repeats_title
from newsletter.feeds.parse import parse_feed

pytestmark = pytest.mark.corpus
WECHAT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "wechat" / "feeds"
SNAPSHOT = datetime(2021, 6, 20, tzinfo=UTC)  # the day after the snapshot was taken


@pytest.fixture(scope="module")
def wechat_feeds() -> list[Path]:
    if not WECHAT.is_dir():
        pytest.skip(f"the WeChat corpus is not checked out at {WECHAT} (../shared is absent)")
    return sorted(WECHAT.glob("*.xml"))


def test_no_wechat_summary_repeats_its_title(wechat_feeds: list[Path]) -> None:
    """The bridge's content:encoded is the title (3,810 of 3,820 items before the fix): after
    parsing, every summary is empty or says something of its own."""
    entries = 0
    kept = []
    for path in wechat_feeds:
        feed = parse_feed(
            path.read_bytes(),
            url=f"https://wechat.example/{path.name}",
            language="zh",
            now=SNAPSHOT,
        )
        for entry in feed.entries:
            entries += 1
            assert entry.summary_text != entry.title
            if entry.summary_text:
                assert not summary_repeats_title(entry.summary_text, entry.title), (
                    path.name,
                    entry.title,
                    entry.summary_text,
                )
                assert entry.summary_html
                kept.append(entry.summary_text)
            else:
                assert entry.summary_html == ""
    assert entries > 3000  # the whole corpus was read
    # the few real teasers are kept (6 in this snapshot), not thrown away with the rest
    assert 0 < len(kept) < entries // 100
