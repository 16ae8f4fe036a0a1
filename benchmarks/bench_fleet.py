"""One command over 16 scopes against 16 one-scope commands, against moto's EC2 on loopback.

The target covers 16 regions (`region = [...]`), each holding a few instances.
The same listing is done once as `snoozebot instance list -t fleet --json` and
once as 16 `snoozebot instance list -p aws -o region=R --json`, one after the
other (what a crontab of 16 lines does), interleaved over several rounds.

Run: .venv/bin/python benchmarks/bench_fleet.py [--rounds N]
Target (docs/fleets.md): the one command costs at most 0.3x the 16.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _aws_env import bench_env

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1",
    "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-south-1",
    "ca-central-1", "sa-east-1",
]
SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-region", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            env = bench_env(endpoint, Path(scratch))
            Path(env["SNOOZEBOT_CONFIG"]).write_text(
                '[targets.fleet]\nprovider = "aws"\nregion = ' + json.dumps(REGIONS) + "\n"
            )
            for region in REGIONS:
                boto3.client(
                    "ec2", region_name=region, endpoint_url=endpoint,
                    aws_access_key_id="bench", aws_secret_access_key="bench",
                ).run_instances(ImageId="ami-12c6146b", MinCount=args.per_region, MaxCount=args.per_region)
            one = [SNOOZEBOT, "instance", "list", "-t", "fleet", "--json"]
            many = [[SNOOZEBOT, "instance", "list", "-p", "aws", "-o", f"region={r}", "--json"] for r in REGIONS]
            _run(one, env)  # warm caches alike for both
            samples: dict[str, list[float]] = {"one command, 16 scopes": [], "16 commands": []}
            for _ in range(args.rounds):
                samples["one command, 16 scopes"].append(_run(one, env))
                samples["16 commands"].append(sum(_run(argv, env) for argv in many))
    finally:
        server.stop()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:>24}: {value:6.2f} s (median of {args.rounds})")
    ratio = medians["one command, 16 scopes"] / medians["16 commands"]
    print(f"one / sixteen: {ratio:.2f}x (target <= 0.3x)")


if __name__ == "__main__":
    main()
