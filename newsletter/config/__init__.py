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
from newsletter.config.settings import (
    Settings,
    UnknownVariable,
    load_settings,
    unknown_variables,
    warn_unknown_variables,
)

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
    "UnknownVariable",
    "load_config",
    "load_settings",
    "parse_config",
    "unknown_variables",
    "warn_unknown_variables",
]
