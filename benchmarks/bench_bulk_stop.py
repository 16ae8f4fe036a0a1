"""Benchmark (b): stopping 1,000 instances in one `snoozebot instance stop` command.

Starts moto's EC2 server here on 127.0.0.1, launches 1,000 instances, and
times, round by round on the same server:

  snoozebot   .venv/bin/snoozebot instance stop ID1 ... ID1000 -p aws --json
  boto3       a bare script making ONE StopInstances call with all 1,000 ids
              (the fewest calls possible; the baseline for the ratio)

Every EC2 API call reaching the server is counted by action. Between runs all
instances are started again (untimed). Target (issue 3): under 5 s on a
2-core machine, batched (a handful of calls, not 1,000).

Usage: .venv/bin/python benchmarks/bench_bulk_stop.py [--instances 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import collections
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from _aws_env import bench_env

BIN = Path(sys.executable).parent
BOTO3_SCRIPT = (
    "import sys, boto3; ids = sys.stdin.read().split(); boto3.client('ec2').stop_instances(InstanceIds=ids)"
)

calls: collections.Counter[str] = collections.Counter()
calls_lock = threading.Lock()


def count_api_calls() -> None:
    """Count every request moto's server receives, by EC2 Action."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    original = DomainDispatcherApplication.__call__

    def counting(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        with calls_lock:
            calls[action] += 1
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = counting  # type: ignore[method-assign]


def run(argv: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, input=stdin, text=True, capture_output=True, timeout=300, check=False
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from snoozebot.cli.demo import local_ec2

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    count_api_calls()
    with local_ec2() as ec2, tempfile.TemporaryDirectory(prefix="bench-bulk-stop-") as scratch:
        print(f"launching {args.instances} instances in moto (untimed) ...", flush=True)
        ids: list[str] = []
        while len(ids) < args.instances:
            n = min(500, args.instances - len(ids))
            reply = ec2.client.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n)
            ids += [i["InstanceId"] for i in reply["Instances"]]
        env = bench_env(ec2.endpoint, Path(scratch))
        runs = {
            "snoozebot": lambda: run(
                [str(BIN / "snoozebot"), "instance", "stop", *ids, "-p", "aws", "--json"], env
            ),
            "boto3": lambda: run([sys.executable, "-c", BOTO3_SCRIPT], env, stdin=" ".join(ids)),
        }
        samples: dict[str, list[float]] = {name: [] for name in runs}
        api_calls: dict[str, collections.Counter[str]] = {}
        for _ in range(args.rounds):
            for name, go in runs.items():
                for start in range(0, len(ids), 500):
                    ec2.client.start_instances(InstanceIds=ids[start : start + 500])
                with calls_lock:
                    calls.clear()
                samples[name].append(go())
                with calls_lock:
                    api_calls[name] = collections.Counter(calls)
        stopped = sum(
            1
            for page in ec2.client.get_paginator("describe_instances").paginate(
                Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}]
            )
            for r in page["Reservations"]
            for _ in r["Instances"]
        )
        assert stopped == len(ids), f"only {stopped} of {len(ids)} stopped"

    medians = {name: statistics.median(values) for name, values in samples.items()}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"stopping {args.instances} instances in one command against local moto EC2, {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, load average {load}:"
    )
    for name, value in medians.items():
        made = ", ".join(f"{action} x{n}" for action, n in sorted(api_calls[name].items()))
        print(
            f"  {name:<10} median {value:6.2f} s   API calls per run: {sum(api_calls[name].values())} ({made})"
        )
    ratio = medians["snoozebot"] / medians["boto3"]
    verdict = "OK" if medians["snoozebot"] < 5.0 else "MISSED"
    print(
        f"snoozebot / one-call boto3 = {ratio:.2f}x;  snoozebot wall time {medians['snoozebot']:.2f} s (target < 5 s) {verdict}"
    )


if __name__ == "__main__":
    main()
