"""Measure the financing and event detectors on the labelled set in tests/data/editorial_eval.jsonl.

Prints precision and recall for financing and events, and exact-match rates for round, amount
(low and high) and currency on the true positives. `make eval` runs it; figures go in
docs/editorial.md. Use --errors to list every miss.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from newsletter.domain.editorial.events import detect_event
from newsletter.domain.editorial.financing import detect_financing

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data"
DATA = DATA_DIR / "editorial_eval.jsonl"
HOLDOUT = DATA_DIR / "editorial_holdout.jsonl"


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load(path: Path = DATA) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def evaluate(rows: list[dict[str, Any]], show_errors: bool = False) -> dict[str, float]:
    fin, ev = Counts(), Counts()
    round_ok = amount_ok = currency_ok = date_ok = 0
    for row in rows:
        published = date.fromisoformat(row["published"])
        got = detect_financing(row["title"], row["summary"], row["lang"])
        want = row["financing"]
        if got and want:
            fin.tp += 1
            facts = got.to_dict()
            checks = (
                facts["round"] == want["round"],
                (facts["amount_low"], facts["amount_high"])
                == (want["amount_low"], want["amount_high"]),
                facts["currency"] == want["currency"],
            )
            round_ok += checks[0]
            amount_ok += checks[1]
            currency_ok += checks[2]
            if show_errors and not all(checks):
                print(
                    f"FIELDS {row['id']}: got {facts['round']} {facts['amount_low']}-{facts['amount_high']} "
                    f"{facts['currency']}; want {want['round']} {want['amount_low']}-{want['amount_high']} "
                    f"{want['currency']} | {row['title']}"
                )
        elif got and not want:
            fin.fp += 1
            if show_errors:
                print(f"FIN-FP {row['id']} ({row['kind']}): {row['title']}")
        elif want and not got:
            fin.fn += 1
            if show_errors:
                print(f"FIN-FN {row['id']}: {row['title']} | {row['summary'][:80]}")
        got_event = detect_event(row["title"], row["summary"], row["lang"], published)
        want_event = row["event"]
        if got_event and want_event:
            ev.tp += 1
            same_day = (
                got_event.start is not None and got_event.start.isoformat() == want_event["start"]
            )
            date_ok += same_day
            if show_errors and not same_day:
                print(
                    f"DATE {row['id']}: got {got_event.start} want {want_event['start']} | {row['title']}"
                )
        elif got_event and not want_event:
            ev.fp += 1
            if show_errors:
                print(f"EV-FP {row['id']} ({row['kind']}): {row['title']}")
        elif want_event and not got_event:
            ev.fn += 1
            if show_errors:
                print(f"EV-FN {row['id']}: {row['title']} | {row['summary'][:80]}")
    tp = fin.tp or 1
    return {
        "items": len(rows),
        "financing_precision": fin.precision,
        "financing_recall": fin.recall,
        "round_exact": round_ok / tp,
        "amount_exact": amount_ok / tp,
        "currency_exact": currency_ok / tp,
        "events_precision": ev.precision,
        "events_recall": ev.recall,
        "event_date_exact": date_ok / (ev.tp or 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list every miss")
    args = parser.parse_args()
    tuned = evaluate(load(DATA), args.errors)
    held = evaluate(load(HOLDOUT), args.errors) if HOLDOUT.exists() else None
    print(f"{'measure':<22} {'tuning set':>11} {'held-out':>9}")
    print(
        f"{'items':<22} {tuned.pop('items'):>11.0f} {held.pop('items') if held else float('nan'):>9.0f}"
    )
    for name, value in tuned.items():
        other = f"{held[name]:>9.3f}" if held else ""
        print(f"{name:<22} {value:>11.3f} {other}")


if __name__ == "__main__":
    main()
