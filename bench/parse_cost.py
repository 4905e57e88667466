"""The CPU cost of parsing and reading one feed (``parse_job``, what a parsing process of
`newsletter ingest` does per body), in instructions, and a digest of its results.

  --callgrind   instructions per feed: two runs of this script under valgrind's callgrind,
                parsing 1 and 1 + N benchmark feeds (bench_ingest's: 50 items, every item with
                a financing or event sentence); their difference / N leaves out start-up,
                imports, the model's loading and the first call's warm-up
  --profile     cProfile of parse_job over N feeds, the top functions by own time
  --dump FILE   the results of parse_job (repr of each ReadFeed, or the error) on N benchmark
                feeds and on every real feed of ../shared/corpus (each in its own language and
                in the other of en/zh), pickled; --compare FILE says which differ now

Run: ``.venv/bin/python bench/parse_cost.py --callgrind`` (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gzip
import os
import pickle
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from feedgen import is_chinese, make_feed
from harness import ROOT, machine_summary, write_config

from newsletter.config import load_config
from newsletter.feeds.fetch import Validators
from newsletter.learning.store import shipped_path
from newsletter.service.parsing import FeedJob, ReadingInputs, parse_job

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # fixed: the same feeds and readings every run
ITEMS = 50
MAX_ENTRIES = 200
CORPUS = ROOT.parent / "shared" / "corpus"
CONTENT_TYPE = "application/rss+xml; charset=utf-8"


def reading_inputs() -> ReadingInputs:
    """The project's feeds.yaml sections and topic, the shipped model (as bench_ingest's CLI)."""
    with tempfile.TemporaryDirectory(prefix="parse-cost-") as tmp:
        config = load_config(write_config(Path(tmp), []))
    return ReadingInputs(config.rule_order, config.topic, str(shipped_path()), config.newsletter.tz)


def bench_job(index: int) -> FeedJob:
    """The FeedJob bench_ingest's feed number ``index`` gets."""
    return FeedJob(
        id=index,
        name=f"Bench feed {index:05d}",
        url=f"http://127.0.0.1/feeds/{index:05d}.xml",
        section="industry" if index % 2 else "headlines",
        language="zh" if is_chinese(index) else "en",
        encoding=None,
        validators=Validators(),
        body_hash=None,
    )


def bench_feeds(count: int) -> list[tuple[FeedJob, bytes]]:
    return [(bench_job(i), make_feed(i, ITEMS, NOW, facts=True)) for i in range(count)]


def run(feeds: list[tuple[FeedJob, bytes]], inputs: ReadingInputs) -> None:
    for job, body in feeds:
        parse_job(body, job.url, CONTENT_TYPE, job, NOW, MAX_ENTRIES, inputs)


def corpus_feeds() -> Iterator[tuple[str, FeedJob, bytes]]:
    """Every real feed, read in its own language (SOURCES.tsv; WeChat: zh) and in the other of
    en/zh: what the equivalence of two versions of parse_job is checked on."""
    languages: dict[str, str] = {}
    gzipped: set[str] = set()
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8") as sources:
        for row in csv.DictReader(sources, delimiter="\t"):
            languages[row["local_file"]] = row["language"]
            if row["feed_format"].endswith("-gzip"):
                gzipped.add(row["local_file"])
    paths = [(p, languages.get(p.name, "en")) for p in sorted((CORPUS / "feeds").iterdir())]
    paths += [(p, "zh") for p in sorted((CORPUS / "wechat" / "feeds").glob("*.xml"))]
    for n, (path, language) in enumerate(paths):
        body = path.read_bytes()
        if path.name in gzipped:  # as served with Content-Encoding: gzip, inflated by httpx
            body = gzip.decompress(body)
        for lang in dict.fromkeys((language, "en" if language == "zh" else "zh")):
            job = FeedJob(
                id=n,
                name=path.stem,
                url=f"https://example.com/{path.name}",
                section="industry" if n % 2 else "headlines",
                language=lang,
                encoding=None,
                validators=Validators(),
                body_hash=None,
            )
            yield f"{path.name} ({lang})", job, body


def results(count: int, inputs: ReadingInputs) -> dict[str, str]:
    """name -> repr of parse_job's ReadFeed (or of the error it raised)."""
    named = [(f"bench {job.id}", job, body) for job, body in bench_feeds(count)]
    if CORPUS.is_dir():
        named += list(corpus_feeds())
    else:
        print(f"no real feeds at {CORPUS}: benchmark feeds only", file=sys.stderr)
    out = {}
    for name, job, body in named:
        try:
            read = parse_job(body, job.url, None, job, NOW, MAX_ENTRIES, inputs)
        except Exception as exc:  # the error is part of what is compared
            out[name] = f"{type(exc).__name__}: {exc}"
        else:
            out[name] = repr(read)
    return out


CALLGRIND_TOTAL = re.compile(r"Collected\s*:\s*(\d+)")


def callgrind(count: int) -> None:
    """Instructions per feed: (run of 1 + count feeds - run of 1 feed) / count."""
    with tempfile.TemporaryDirectory(prefix="parse-cost-") as tmp:
        bodies = Path(tmp) / "feeds.pickle"
        bodies.write_bytes(pickle.dumps(bench_feeds(count + 1)))
        totals = []
        for n in (1, count + 1):
            command = [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                __file__,
                "--run",
                str(bodies),
                "--feeds",
                str(n),
            ]
            env = dict(os.environ, PYTHONHASHSEED="0")
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            found = CALLGRIND_TOTAL.search(done.stderr)
            if found is None:
                raise RuntimeError(f"no callgrind total in:\n{done.stderr[-2000:]}")
            totals.append(int(found[1]))
            print(f"{n} feed(s): {totals[-1]:,} instructions", flush=True)
    per_feed = (totals[1] - totals[0]) / count
    print(f"parse_job per {ITEMS}-item benchmark feed: {per_feed / 1e6:.1f} M instructions")


def profile(count: int, inputs: ReadingInputs, top: int) -> None:
    feeds = bench_feeds(count + 1)
    run(feeds[:1], inputs)  # warm-up: model, lazy imports, compiled expressions
    profiler = cProfile.Profile()
    start = time.process_time()
    profiler.runcall(run, feeds[1:], inputs)
    cpu = time.process_time() - start
    print(f"{cpu / count * 1000:.1f} ms of CPU per feed under cProfile")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=10, help="benchmark feeds (10)")
    parser.add_argument("--callgrind", action="store_true", help="instructions per feed")
    parser.add_argument("--profile", action="store_true", help="cProfile of parse_job")
    parser.add_argument("--top", type=int, default=40, help="functions --profile lists")
    parser.add_argument("--dump", type=Path, help="write the results of parse_job here")
    parser.add_argument("--compare", type=Path, help="compare the results with a --dump file")
    parser.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # --callgrind's runs
    args = parser.parse_args(argv)
    if args.run:
        feeds = pickle.loads(args.run.read_bytes())[: args.feeds]
        run(feeds, reading_inputs())
        return 0
    print(machine_summary())
    if args.callgrind:
        callgrind(args.feeds)
    if args.profile:
        profile(args.feeds, reading_inputs(), args.top)
    if args.dump or args.compare:
        now = results(args.feeds, reading_inputs())
        print(f"{len(now)} results")
        if args.dump:
            args.dump.write_bytes(pickle.dumps(now))
        if args.compare:
            before: dict[str, str] = pickle.loads(args.compare.read_bytes())
            differ = [k for k in before.keys() | now.keys() if before.get(k) != now.get(k)]
            for name in sorted(differ):
                print(f"differs: {name}")
            print(f"{len(differ)} of {len(before)} results differ")
            return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
