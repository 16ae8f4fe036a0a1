"""Benchmark: `snoozebot savings --since 30d` over 60,000 snoozed intervals, SQLite and PostgreSQL.

A journal of 1,000 instances (ten types in two regions, five teams) with two
snoozes a day for 30 days is written to each state store: SQLite in a
temporary state directory, and a temporary PostgreSQL cluster on 127.0.0.1
(tests/pg.py, fsync on). Then, each as the real command in a fresh process
(interpreter start-up included), the backends interleaved round by round:

- ``savings --since 30d --json`` priced by ``[prices]`` (every type listed);
- the same priced from the lookups' cache (``prices-cache.json``, no worker);
- ``--by day`` and ``--by tag:team`` (the day split cuts every interval);

and, in this process: the report alone, and a listing of the 1,000 instances
where nothing changed (``Journal.seen``: one query). Target: each command
under 1 s. Medians of ``--rounds`` runs (default 5).

    .venv/bin/python benchmarks/bench_savings.py [--instances 1000] [--days 30] [--rounds 5]
                                                 [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.savings.journal import Journal
from snoozebot.savings.price_cache import CACHE_FILE
from snoozebot.savings.prices import PriceBook
from snoozebot.savings.report import Window, build_report
from snoozebot.savings.store import Details, StateJournalStore
from snoozebot.store import DATABASE_URL_ENV, Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
BACKENDS = ("sqlite", "postgresql")
TYPES = [f"m{n}.large" for n in range(10)]
REGIONS = ["us-east-1", "eu-west-1"]
DAY = 86400.0


def seed(state: Store, *, instances: int, days: int, now: float) -> int:
    """Two snoozes a day (lunch and night) per instance, the last night still open; one transaction."""
    store = StateJournalStore(state)
    kinds = [Details(t, r, {"team": f"team-{n % 5}"}) for n, (t, r) in enumerate(zip(TYPES, REGIONS * 5, strict=True))]
    store.open("bench", [(f"seed-{n}", d) for n, d in enumerate(kinds)], source="bench", at=0)  # schema, details
    store.close("bench", [f"seed-{n}" for n in range(len(kinds))], at=0, by="start")
    ids = dict(state.read(lambda db: db.execute("SELECT instance_type, id FROM savings_details"), empty=[]))
    midnight = now - now % DAY
    rows = []
    for n in range(instances):
        ref = ids[kinds[n % len(kinds)].instance_type]
        for back in range(days, 0, -1):
            day = midnight - back * DAY
            rows.append(("bench", f"i-{n:05d}", ref, day + 12 * 3600, day + 13 * 3600, "start"))
            night_end = day + DAY + 7 * 3600 if back > 1 else None
            rows.append(("bench", f"i-{n:05d}", ref, day + 19 * 3600, night_end, "start" if night_end else None))
    with state.session(consequence="nothing was seeded") as db, db.transaction():
        db.execute_many(
            "INSERT INTO savings_intervals (provider, instance, details, source, started, ended, ended_by)"
            " VALUES (?, ?, ?, 'schedule', ?, ?, ?)",
            rows,
        )
        if db.dialect == "postgresql":
            db.execute("ANALYZE savings_intervals")  # as autovacuum soon would
    return len(rows)


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([SNOOZEBOT, *args], check=True, capture_output=True, env=env, timeout=120)
    return time.perf_counter() - started


@contextlib.contextmanager
def databases(backends: list[str]) -> Iterator[dict[str, Config]]:
    """Each backend's config: SQLite in the state directory, or a fresh cluster's database."""
    if "postgresql" not in backends:
        yield {"sqlite": Config()}
        return
    from pg import pg_cluster

    with pg_cluster(durable=True) as server:
        url = server.new_database()
        yield {name: Config(data={"state": {"database": url}} if name == "postgresql" else {}) for name in backends}


def in_process(name: str, state: Store, *, instances: int, rounds: int, now: float) -> None:
    end = dt.datetime.fromtimestamp(now, dt.UTC)
    window = Window(end - dt.timedelta(days=30), end)
    book = PriceBook({f"bench:{t}": 0.1 for t in TYPES})
    store = StateJournalStore(state)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        report = build_report(store, window, by="instance", prices=book, now=now)
        samples.append(time.perf_counter() - started)
    print(f"{name:10s} {'report alone, in process':48s} median {statistics.median(samples) * 1000:7.0f} ms "
          f"({report.hours:,.0f} h, {len(report.rows):,} rows)")
    listing = [
        sdk.Instance(id=f"i-{n:05d}", provider="bench", state=sdk.InstanceState.STOPPED, raw_state="stopped",
                     instance_type=TYPES[n % len(TYPES)], region=REGIONS[n % len(REGIONS)])
        for n in range(instances)
    ]
    journal = Journal(store)
    journal.seen(listing)  # first sighting: nothing to change (details known)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        journal.seen(listing)
        samples.append(time.perf_counter() - started)
    print(f"{name:10s} {f'seen({instances:,} listed, nothing changed)':48s} median "
          f"{statistics.median(samples) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=BACKENDS, action="append", help="default: both")
    opts = parser.parse_args()
    backends = opts.backend or list(BACKENDS)
    os.environ.pop(DATABASE_URL_ENV, None)
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp, databases(backends) as configs:
        priced = "[prices]\n" + "".join(f'"bench:{t}" = 0.{n + 1}\n' for n, t in enumerate(TYPES))
        cache = {
            f"bench|{t}|{r}": {"at": now, "usd_per_hour": 0.1 * (n + 1), "source": "lookup", "detail": "bench"}
            for n, t in enumerate(TYPES) for r in REGIONS
        }
        envs, stores = {}, {}
        for name, config in configs.items():
            home = Path(tmp) / name
            home.mkdir()
            stores[name] = open_store(home, config)
            count = seed(stores[name], instances=opts.instances, days=opts.days, now=now)
            (home / CACHE_FILE).write_text(json.dumps(cache))
            url = config.table("state").get("database")
            for kind, text in (("priced", priced), ("bare", "")):
                (Path(tmp) / f"{name}-{kind}.toml").write_text(text)
            envs[name] = {**os.environ, "SNOOZEBOT_HOME": str(home), **({DATABASE_URL_ENV: url} if url else {})}
            print(f"{name}: {count:,} intervals of {opts.instances:,} instances over {opts.days} days")

        cases = {
            "savings --since 30d --json ([prices])": (["savings", "--since", "30d", "--json"], "priced"),
            "savings --since 30d --json (cached lookups)": (["savings", "--since", "30d", "--json"], "bare"),
            "savings --since 30d --by day --json": (["savings", "--since", "30d", "--by", "day", "--json"], "priced"),
            "savings --since 30d --by tag:team --csv": (["savings", "--by", "tag:team", "--csv"], "priced"),
            "snoozebot --version (start-up alone)": (["--version"], "priced"),
        }
        times: dict[tuple[str, str], list[float]] = {(b, c): [] for b in envs for c in cases}
        for _ in range(opts.rounds):  # interleaved, so load on the machine hits every case alike
            for case, (args, kind) in cases.items():
                for name, env in envs.items():
                    config = Path(tmp) / f"{name}-{kind}.toml"
                    times[name, case].append(timed(args, {**env, "SNOOZEBOT_CONFIG": str(config)}))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} CPUs, load average {load}")
        for (name, case), samples in times.items():
            print(f"{name:10s} {case:48s} median {statistics.median(samples) * 1000:7.0f} ms"
                  f"  max {max(samples) * 1000:7.0f} ms")
        for name, state in stores.items():
            in_process(name, state, instances=opts.instances, rounds=opts.rounds, now=now)


if __name__ == "__main__":
    main()
