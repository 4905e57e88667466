"""Feeds in: the only HTTP for feeds and articles, parsing, article text."""
