"""newsletter: a scheduled, sectioned email digest built from RSS/Atom feeds."""

__version__ = "0.1.0"
PRODUCT = "newsletter"
