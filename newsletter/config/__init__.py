"""Configuration, loaded once at the edge: NEWSLETTER_* settings and the feeds.yaml schema."""

from newsletter.config.loading import load_config, parse_config
from newsletter.config.model import (
    SECTION_ID,
    WEEKDAYS,
    Config,
    FeedConfig,
    NewsletterConfig,
    Schedule,
    SectionConfig,
    Sender,
    TopicConfig,
    TopicExample,
)
from newsletter.config.settings import Settings, load_settings

__all__ = [
    "SECTION_ID",
    "WEEKDAYS",
    "Config",
    "FeedConfig",
    "NewsletterConfig",
    "Schedule",
    "SectionConfig",
    "Sender",
    "Settings",
    "TopicConfig",
    "TopicExample",
    "load_config",
    "load_settings",
    "parse_config",
]
