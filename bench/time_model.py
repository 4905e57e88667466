"""Time the reading model per item, in-process: features, relevance and section scores.

Items are those of generated trade-press feeds (bench/feedgen.py: 50 items of ~2 KB HTML each,
every fifth feed in Chinese), parsed once with the product's parser; each step is timed with
time.process_time over the same items, best of ``--repeat`` rounds. ``--before REV`` also times
the text model and shipped model of a git revision (e.g. ``main``) in the same run, on the same
items, and prints the ratio. Not a benchmark of ingest (bench_ingest.py is): a quick, quiet
measure of the model's share of the reading. `python bench/time_model.py --before REV`.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feedgen import make_feed

from newsletter.feeds.parse import parse_feed
from newsletter.learning.store import load_model, shipped_path

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 6, 1, tzinfo=UTC)
FEED_ITEMS = 50  # items of each generated feed
Steps = dict[str, Callable[[], object]]


def items(feeds: int) -> list[tuple[str, str]]:
    """(title, summary) of every item of the generated feeds."""
    result = []
    for index in range(feeds):
        parsed = parse_feed(
            make_feed(index, FEED_ITEMS, NOW, facts=True), url=f"http://f{index}/", now=NOW
        )
        result += [(e.title, e.summary_text) for e in parsed.entries]
    return result


def best(step: Callable[[], object], repeat: int) -> float:
    """The least CPU time of ``repeat`` runs of step, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return min(times)


def current_steps(texts: list[tuple[str, str]]) -> Steps:
    """The steps with this checkout's text model and shipped model."""
    model = load_model(shipped_path())
    sections = model.sections
    assert sections is not None
    xs = [model.features(t, s) for t, s in texts]
    # Relevance as read_items gives it: a feed's items together (its feed context, if any).
    feeds = [xs[i : i + FEED_ITEMS] for i in range(0, len(xs), FEED_ITEMS)]
    return {
        "features": lambda: [model.features(t, s) for t, s in texts],
        "relevance": lambda: [model.relevance_of_items(feed) for feed in feeds],
        "sections": lambda: [sections.probabilities(x) for x in xs],
    }


def _git(rev: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, check=True
    ).stdout


def before_steps(rev: str, texts: list[tuple[str, str]]) -> Steps:
    """The steps with the text model and shipped model of git revision ``rev``."""
    spec = importlib.util.spec_from_loader("textmodel_before", loader=None)
    assert spec is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # dataclasses look their module up
    exec(_git(rev, "newsletter/domain/editorial/textmodel.py"), old.__dict__)
    data = json.loads(gzip.decompress(_git(rev, "newsletter/learning/data/reading.json.gz")))

    def linear(module: ModuleType, part: dict[str, Any]) -> Any:
        weights = tuple(dict(zip(w["index"], w["value"], strict=True)) for w in part["weights"])
        return module.LinearModel(tuple(part["classes"]), weights, tuple(part["intercepts"]))

    relevance, sections = linear(old, data["relevance"]), linear(old, data["sections"])
    n = int(data.get("n_features", old.N_FEATURES))
    xs = [old.features(t, s, n) for t, s in texts]
    return {
        "features": lambda: [old.features(t, s, n) for t, s in texts],
        "relevance": lambda: [relevance.probabilities(x)["yes"] for x in xs],
        "sections": lambda: [sections.probabilities(x) for x in xs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also time this git revision's model")
    args = parser.parse_args()
    texts = items(args.feeds)
    runs = {"now": current_steps(texts)}
    if args.before:
        runs = {"before": before_steps(args.before, texts), **runs}
    n = len(texts)
    totals: dict[str, float] = {}
    print(f"{n} items of {args.feeds} generated feeds; µs of CPU per item (best of {args.repeat})")
    print(f"{'':10}" + "".join(f"{name:>10}" for name in runs))
    for step in ("features", "relevance", "sections"):
        # Interleaved: both runs see the same machine load.
        cells = {name: best(steps[step], args.repeat) / n * 1e6 for name, steps in runs.items()}
        for name, value in cells.items():
            totals[name] = totals.get(name, 0.0) + value
        print(f"{step:10}" + "".join(f"{v:10.1f}" for v in cells.values()))
    print(f"{'all':10}" + "".join(f"{v:10.1f}" for v in totals.values()))
    if args.before:
        print(f"before / now: {totals['before'] / totals['now']:.1f}x")


if __name__ == "__main__":
    main()
