"""Benchmark: `snoozebot schedule run -p aws` over 1,000 tagged instances in one region (moto).

moto's EC2 server runs on 127.0.0.1 behind a small counting proxy, so every
EC2 API call the run makes is counted by action. 1,000 instances tagged
``snoozebot-schedule=office-hours`` (plus ``--untagged N`` others, default 0)
are stopped by a stop boundary, then started again by the next start boundary.
Each is timed as the real command in a fresh process, with the AWS provider's
default batches (100 ids per call, 8 concurrent) and with ``-o batch_size=1000``.

The baseline, measured in the same run against the same server: a bare boto3
script in a fresh process that lists the same instances (one paginated
DescribeInstances) and stops or starts them in one call. Ratios are
snoozebot / baseline ("nothing due" runs, which only list, against the bare
stop). moto runs in this process and does most of the work, so wall times follow
the machine's load; the CPU column (the command and its worker, not moto) is
snoozebot's own cost. Target: a handful of API calls and under 10 s.

It first times the decision step alone (no cloud, no process): 1,000
instances over 3 ``snoozebot-order`` tiers on a schedule with calendars (dates
and a recurring ics event), a cron period and ``unless_busy`` with an activity
report for every instance, decided and grouped into tiers with cold caches, as
a fresh ``schedule run`` process does it. Target: under 100 ms.

    .venv/bin/python benchmarks/bench_schedule.py [--instances 1000] [--untagged 0] [--rounds 2]
    .venv/bin/python benchmarks/bench_schedule.py --decision-only
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import free_port  # noqa: E402

SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
AMI = "ami-12c6146b"
CONFIG = """
[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{ days = "mon-fri", start = "08:00", stop = "19:00" }]
"""
BARE_SCRIPT = """
import sys, boto3
ec2 = boto3.client("ec2")
ids = []
pages = ec2.get_paginator("describe_instances").paginate(
    Filters=[{"Name": "tag:snoozebot-schedule", "Values": ["office-hours"]},
             {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}],
    PaginationConfig={"PageSize": 1000},
)
for page in pages:
    for r in page["Reservations"]:
        ids += [i["InstanceId"] for i in r["Instances"]]
if sys.argv[1] == "stop":
    ec2.stop_instances(InstanceIds=ids)
else:
    ec2.start_instances(InstanceIds=ids)
"""


class Counter:
    """EC2 actions seen by the proxy."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.actions: collections.Counter[str] = collections.Counter()

    def take(self) -> dict[str, int]:
        with self.lock:
            seen, self.actions = dict(self.actions), collections.Counter()
        return seen


def start_proxy(target: str, counter: Counter) -> ThreadingHTTPServer:
    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            action = urllib.parse.parse_qs(body.decode()).get("Action", ["?"])[0]
            with counter.lock:
                counter.actions[action] += 1
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(target + self.path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=120) as reply:
                    status, data, reply_headers = reply.status, reply.read(), reply.headers
            except urllib.error.HTTPError as exc:
                status, data, reply_headers = exc.code, exc.read(), exc.headers
            self.send_response(status)
            for key, value in reply_headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def launch(ec2: object, count: int, tags: dict[str, str] | None) -> None:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
    for start in range(0, count, 250):
        n = min(250, count - start)
        ec2.run_instances(ImageId=AMI, MinCount=n, MaxCount=n, **({"TagSpecifications": spec} if tags else {}))  # type: ignore[attr-defined]


def boundary_times() -> Iterator[str]:
    """``--now`` values: after a weekday's 19:00 stop, after the next weekday's 08:00 start,
    then ten minutes later (no boundary: the run only lists)."""
    day = dt.date(2026, 11, 23)
    while True:
        yield f"{day.isoformat()}T19:05:00+01:00"
        day += dt.timedelta(days=3 if day.weekday() == 4 else 1)
        yield f"{day.isoformat()}T08:05:00+01:00"
        yield f"{day.isoformat()}T08:15:00+01:00"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of the command and its children (its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


DECISION_ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
UID:christmas@bench\r
DTSTART;VALUE=DATE:20201224\r
DTEND;VALUE=DATE:20201227\r
RRULE:FREQ=YEARLY\r
END:VEVENT\r
END:VCALENDAR\r
"""


def decision_step(count: int, *, repeats: int = 21) -> None:
    """Median milliseconds of the decision step over ``count`` instances in 3 order tiers."""
    from snoozebot import sdk
    from snoozebot.schedule import ActivityReport, load_schedules, plan_run
    from snoozebot.schedule import calendars as calendars_module
    from snoozebot.schedule.boundaries import latest_boundary

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "holidays.ics").write_text(DECISION_ICS)
        schedules = load_schedules(
            {
                "office-hours": {
                    "timezone": "Europe/Berlin",
                    "periods": [
                        {"days": "mon-fri", "start": "08:00", "stop": "19:00"},
                        {"cron": "0 13 * * 6", "action": "stop"},
                    ],
                    "calendars": ["holidays", "extra"],
                    "unless_busy": "30m",
                }
            },
            calendars={"holidays": {"ics": "holidays.ics"}, "extra": {"dates": ["2026-12-31", "2027-01-01"]}},
            base=Path(tmp),
        )
    now = dt.datetime(2026, 11, 24, 7, 5, tzinfo=dt.UTC)  # Tuesday 08:05 in Berlin: a start boundary
    after = now - dt.timedelta(minutes=10)
    instances = [
        sdk.Instance(id=f"i-{n:05d}", provider="bench", state=sdk.InstanceState.STOPPED,
                     tags={"snoozebot-schedule": "office-hours", "snoozebot-order": str(n % 3)})
        for n in range(count)
    ]
    cpu = {"value": 3.0, "unit": "%", "threshold": 10.0, "idle": True, "error": None}
    activity = {i.id: ActivityReport("bench", i.id, now, True, {"cpu": cpu}) for i in instances}
    timings = []
    for _ in range(repeats):
        latest_boundary.cache_clear()
        calendars_module._year_dates.cache_clear()  # cold, like a fresh process
        started = time.perf_counter()
        plan = plan_run(instances, schedules, after=after, now=now, activity=activity)
        tiers = plan.tiers("start")
        timings.append(time.perf_counter() - started)
    assert [len(t.members) for t in tiers] == [len(range(k, count, 3)) for k in range(3)]
    print(f"decision step: {count} instances, {len(tiers)} order tiers, calendars (dates + recurring ics), "
          f"cron + unless_busy: median {statistics.median(timings) * 1000:.1f} ms, "
          f"max {max(timings) * 1000:.1f} ms over {repeats} runs (target < 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--untagged", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--decision-only", action="store_true", help="Time the decision step alone.")
    args = parser.parse_args()
    decision_step(args.instances)
    if args.decision_only:
        return

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    counter = Counter()
    proxy = start_proxy(f"http://127.0.0.1:{moto_port}", counter)
    endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_text(CONFIG)
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "SNOOZEBOT_HOME": str(Path(tmp) / "home"),
            "SNOOZEBOT_CONFIG": str(config),
        }
        env.pop("AWS_PROFILE", None)
        ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{moto_port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        launch(ec2, args.instances, {"snoozebot-schedule": "office-hours"})
        launch(ec2, args.untagged, None)
        print(f"{args.instances} tagged + {args.untagged} untagged instances in moto (us-east-1)")

        # Stop at 19:05 Berlin, start at 08:05 the next weekday, and so on: one boundary per run.
        times = boundary_times()
        results: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        calls: dict[str, dict[str, int]] = {}
        variants = {
            "snoozebot (batch_size=100, default)": [],
            "snoozebot (-o batch_size=1000)": ["-o", "batch_size=1000"],
        }
        for _ in range(args.rounds):
            for name, extra in variants.items():
                for action in ("stop", "start", "nothing due"):
                    now = next(times)
                    counter.take()
                    elapsed = timed(
                        [SNOOZEBOT, "schedule", "run", "-p", "aws", "--now", now, "--json", *extra], env
                    )
                    results[f"{name} {action}"].append(elapsed)
                    calls[f"{name} {action}"] = counter.take()
            for action in ("stop", "start"):
                counter.take()
                results[f"bare boto3 {action}"].append(timed([sys.executable, "-c", BARE_SCRIPT, action], env))
                calls[f"bare boto3 {action}"] = counter.take()

        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average {load} on {os.cpu_count()} cores (moto shares them)")
        print(f"\n{'run':<46}{'wall s':>8}{'vs bare':>9}{'CPU s':>7}   EC2 API calls")
        for action in ("stop", "start", "nothing due"):
            bare = results[f"bare boto3 {'stop' if action == 'nothing due' else action}"]
            base = statistics.median(wall for wall, _ in bare)
            for name in [*variants, "bare boto3"] if action != "nothing due" else variants:
                key = f"{name} {action}"
                wall = statistics.median(w for w, _ in results[key])
                cpu = statistics.median(c for _, c in results[key])
                seen = ", ".join(f"{k} {v}" for k, v in sorted(calls[key].items()))
                print(f"{key:<46}{wall:>8.2f}{wall / base:>8.2f}x{cpu:>7.2f}   {sum(calls[key].values())} ({seen})")
    proxy.shutdown()
    moto.stop()


if __name__ == "__main__":
    main()
