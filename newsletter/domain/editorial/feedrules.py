"""A feed's part of the reading (its name, default section and filters): a plain value that
the ingest process builds for each feed without importing the detectors it is read with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeedRules:
    """What the reading needs to know about the item's feed."""

    name: str
    section: str
    report: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
