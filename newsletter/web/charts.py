"""A small bar chart as plain geometry; the template draws it as inline SVG (no script)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LABEL_SPACE = 18.0  # room under the bars for the labels
VALUE_SPACE = 14.0  # room above the tallest bar for its value


@dataclass(frozen=True)
class Bar:
    """One bar: its box, label and value."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: int

    @property
    def center(self) -> float:
        """Where the label and value are centred."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class Chart:
    """Bars in a ``width`` × ``height`` viewBox, with the baseline's y."""

    width: float
    height: float
    baseline: float
    bars: tuple[Bar, ...]

    @property
    def total(self) -> int:
        """The sum of the values."""
        return sum(bar.value for bar in self.bars)


def bar_chart(
    values: Sequence[tuple[str, int]], width: float = 600.0, height: float = 180.0
) -> Chart | None:
    """Bars for (label, value) pairs, the tallest filling the height; None when there are no
    values. Negative values count as 0."""
    if not values:
        return None
    baseline = height - LABEL_SPACE
    top = max(max(v for _, v in values), 1)
    slot = width / len(values)
    gap = min(slot * 0.2, 8.0)
    bars = []
    for index, (label, value) in enumerate(values):
        shown = max(value, 0)
        bar_height = (baseline - VALUE_SPACE) * shown / top
        bars.append(
            Bar(
                x=round(index * slot + gap / 2, 2),
                y=round(baseline - bar_height, 2),
                width=round(slot - gap, 2),
                height=round(bar_height, 2),
                label=label,
                value=shown,
            )
        )
    return Chart(width, height, baseline, tuple(bars))


__all__ = ["Bar", "Chart", "bar_chart"]
