"""Benchmark: `snoozebot savings --since 30d` over 60,000 snoozed intervals (SQLite).

A journal of 1,000 instances (ten types in two regions, five teams) with two
snoozes a day for 30 days is written to a temporary state directory. Then,
each as the real command in a fresh process (interpreter start-up included):

- ``savings --since 30d --json`` priced by ``[prices]`` (every type listed);
- the same priced from the lookups' cache (``prices-cache.json``, no worker);
- ``--by day`` and ``--by tag:team`` (the day split cuts every interval);

and, in this process: the report alone, and a listing of the 1,000 instances
where nothing changed (``Journal.seen``: one query). Target: each command
under 1 s. Medians of ``--rounds`` runs (default 5).

    .venv/bin/python benchmarks/bench_savings.py [--instances 1000] [--days 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from snoozebot import sdk
from snoozebot.savings.journal import Journal
from snoozebot.savings.price_cache import CACHE_FILE
from snoozebot.savings.prices import PriceBook
from snoozebot.savings.report import Window, build_report
from snoozebot.savings.store import JOURNAL_FILE, Details, SqliteJournalStore

SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
TYPES = [f"m{n}.large" for n in range(10)]
REGIONS = ["us-east-1", "eu-west-1"]
DAY = 86400.0


def seed(home: Path, *, instances: int, days: int, now: float) -> int:
    """Two snoozes a day (lunch and night) per instance, the last night still open; one transaction."""
    store = SqliteJournalStore(home / JOURNAL_FILE)
    kinds = [Details(t, r, {"team": f"team-{n % 5}"}) for n, (t, r) in enumerate(zip(TYPES, REGIONS * 5, strict=True))]
    store.open("bench", [(f"seed-{n}", d) for n, d in enumerate(kinds)], source="bench", at=0)  # schema, details
    store.close("bench", [f"seed-{n}" for n in range(len(kinds))], at=0, by="start")
    midnight = now - now % DAY
    rows = []
    for n in range(instances):
        ref = n % len(kinds) + 1
        for back in range(days, 0, -1):
            day = midnight - back * DAY
            rows.append(("bench", f"i-{n:05d}", ref, day + 12 * 3600, day + 13 * 3600, "start"))
            night_end = day + DAY + 7 * 3600 if back > 1 else None
            rows.append(("bench", f"i-{n:05d}", ref, day + 19 * 3600, night_end, "start" if night_end else None))
    with closing(sqlite3.connect(store.path)) as conn, conn:
        conn.executemany(
            "INSERT INTO snoozes (provider, instance, details, source, started, ended, ended_by)"
            " VALUES (?, ?, ?, 'schedule', ?, ?, ?)",
            rows,
        )
    return len(rows)


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([SNOOZEBOT, *args], check=True, capture_output=True, env=env, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    opts = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        count = seed(home, instances=opts.instances, days=opts.days, now=now)
        priced = Path(tmp) / "priced.toml"
        priced.write_text("[prices]\n" + "".join(f'"bench:{t}" = 0.{n + 1}\n' for n, t in enumerate(TYPES)))
        bare = Path(tmp) / "bare.toml"
        bare.write_text("")
        cache = {
            f"bench|{t}|{r}": {"at": now, "usd_per_hour": 0.1 * (n + 1), "source": "lookup", "detail": "bench"}
            for n, t in enumerate(TYPES) for r in REGIONS
        }
        (home / CACHE_FILE).write_text(json.dumps(cache))
        env = {**os.environ, "SNOOZEBOT_HOME": str(home)}
        print(f"journal: {count:,} intervals of {opts.instances:,} instances over {opts.days} days "
              f"({(home / JOURNAL_FILE).stat().st_size / 1e6:.1f} MB)")

        cases = {
            "savings --since 30d --json ([prices])": (["savings", "--since", "30d", "--json"], priced),
            "savings --since 30d --json (cached lookups)": (["savings", "--since", "30d", "--json"], bare),
            "savings --since 30d --by day --json": (["savings", "--since", "30d", "--by", "day", "--json"], priced),
            "savings --since 30d --by tag:team --csv": (["savings", "--by", "tag:team", "--csv"], priced),
            "snoozebot --version (start-up alone)": (["--version"], priced),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(opts.rounds):  # interleaved, so load on the machine hits every case alike
            for name, (args, config) in cases.items():
                times[name].append(timed(args, {**env, "SNOOZEBOT_CONFIG": str(config)}))
        for name, samples in times.items():
            print(f"{name:48s} median {statistics.median(samples) * 1000:7.0f} ms  max {max(samples) * 1000:7.0f} ms")

        store = SqliteJournalStore(home / JOURNAL_FILE)
        end = dt.datetime.fromtimestamp(now, dt.UTC)
        window = Window(end - dt.timedelta(days=30), end)
        book = PriceBook({f"bench:{t}": 0.1 for t in TYPES})
        started = time.perf_counter()
        report = build_report(store, window, by="instance", prices=book, now=now)
        print(f"{'report alone, in process':48s} {(time.perf_counter() - started) * 1000:7.0f} ms "
              f"({report.hours:,.0f} h, {len(report.rows):,} rows)")

        listing = [
            sdk.Instance(id=f"i-{n:05d}", provider="bench", state=sdk.InstanceState.STOPPED, raw_state="stopped",
                         instance_type=TYPES[n % len(TYPES)], region=REGIONS[n % len(REGIONS)])
            for n in range(opts.instances)
        ]
        journal = Journal(store)
        journal.seen(listing)  # first sighting: nothing to change (details known)
        samples = []
        for _ in range(opts.rounds):
            started = time.perf_counter()
            journal.seen(listing)
            samples.append(time.perf_counter() - started)
        print(f"{f'seen({opts.instances:,} listed, nothing changed)':48s} median {statistics.median(samples) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
