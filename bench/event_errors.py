"""Print the event detector's misses, false alarms and wrong dates, on train and dev only.

The same items and reading as `bench/eval_wechat.py` ("events precision / recall / date
exact"), listed item by item with the account, the publication day, the title and the label's
date, so that misses can be grouped into forms and a rule judged on the items it fixes and the
ones it breaks. Each line names the account: a form seen in one account only is likely that
account's wording, not a general one. The test split cannot be printed: tune on train and dev
only (docs/editorial.md, "Facts and stories").

    .venv/bin/python bench/event_errors.py              # train and dev
    .venv/bin/python bench/event_errors.py --split dev --only missed
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_wechat import ReadItem, _date_exact, read_corpus

TUNING_SPLITS = ("train", "dev")
KINDS = ("missed", "false", "date")
SPLITS_TSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "labels" / "splits.tsv"


def _accounts() -> dict[str, str]:
    """Feed file -> account name (WeChat accounts; other feeds keep their file name)."""
    if not SPLITS_TSV.is_file():
        return {}
    with SPLITS_TSV.open(encoding="utf-8") as handle:
        return {row["local_file"]: row["account"] for row in csv.DictReader(handle, delimiter="\t")}


def event_errors(read: list[ReadItem], split: str) -> dict[str, list[ReadItem]]:
    """The items of ``split`` the event detector gets wrong, by kind: missed (labelled, not
    found), false (found, not labelled), date (found and labelled, another date)."""
    if split not in TUNING_SPLITS:
        raise ValueError(f"only {TUNING_SPLITS} may be inspected, not {split!r}")
    errors: dict[str, list[ReadItem]] = {kind: [] for kind in KINDS}
    for item in read:
        if item.label["split"] != split:
            continue
        got, want = item.facts.get("event"), item.label["event"]
        if want and not got:
            errors["missed"].append(item)
        elif got and not want:
            errors["false"].append(item)
        elif got and want and _date_exact(got, want, item.published) is False:
            errors["date"].append(item)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=TUNING_SPLITS, action="append")
    parser.add_argument("--only", choices=KINDS, action="append")
    args = parser.parse_args()
    read, _ = read_corpus()
    accounts = _accounts()
    for split in args.split or TUNING_SPLITS:
        errors = event_errors(read, split)
        print(f"== {split}: " + ", ".join(f"{len(v)} {k}" for k, v in errors.items()))
        for kind in args.only or KINDS:
            by_account = Counter(
                accounts.get(i.label["file"], i.label["file"]) for i in errors[kind]
            )
            for item in errors[kind]:
                account = accounts.get(item.label["file"], item.label["file"])
                want = (item.label["event"] or {}).get("date_text")
                got = item.facts.get("event") or {}
                print(
                    f"{kind.upper():6} {item.published} {account} | {item.title}"
                    f"  [label date {want!r}; got {got.get('start')} {got.get('precision', '')}]"
                )
            if errors[kind]:
                print(f"   {kind} by account: {dict(by_account.most_common())}")


if __name__ == "__main__":
    main()
