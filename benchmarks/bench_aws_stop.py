"""Benchmark (a): one `snoozebot instance stop ID -p aws` against the same call made two other ways.

All three stop one running instance on the same local moto EC2 server (started
here, on 127.0.0.1), as fresh processes, interleaved round by round:

  snoozebot   .venv/bin/snoozebot instance stop ID -p aws
  boto3       a bare script: import boto3; boto3.client("ec2").stop_instances(InstanceIds=[ID])
  awscli      .venv/bin/aws ec2 stop-instances --instance-ids ID

Prints each median and the ratios; targets (docs/architecture.md, "Start-up
speed"): snoozebot at most 1.1x boto3 and under 0.8x awscli.

Three more contenders run the same command without one of its speed layers, to
show what each buys (the figures named beside them in the code):

  no prestart     the worker is started when the command asks for it, not
                  before Typer is imported (snoozebot/host/prestart.py)
  full teardown   the interpreter's normal exit instead of os._exit after
                  flushing (snoozebot/cli/main.py)
  full model      botocore's own EC2 model instead of the trimmed one
                  (snoozebot_aws/_model.py; AWS_DATA_PATH switches it off)

Usage: .venv/bin/python benchmarks/bench_aws_stop.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _aws_env import bench_env

BIN = Path(sys.executable).parent
BOTO3_SCRIPT = "import sys, boto3; boto3.client('ec2').stop_instances(InstanceIds=[sys.argv[1]])"
NO_PRESTART = """
import os, sys
from snoozebot.cli.main import run
code = run(sys.argv[1:])
sys.stdout.flush(); sys.stderr.flush()
os._exit(code)
"""
FULL_TEARDOWN = """
import sys
from snoozebot.cli.main import run
from snoozebot.host import prestart
prestart.prestart(sys.argv[1:])
try:
    code = run(sys.argv[1:])
finally:
    prestart.discard()
sys.exit(code)
"""


def commands(instance_id: str) -> dict[str, list[str]]:
    stop = ["instance", "stop", instance_id, "-p", "aws"]
    return {
        "snoozebot": [str(BIN / "snoozebot"), *stop],
        "boto3": [sys.executable, "-c", BOTO3_SCRIPT, instance_id],
        "awscli": [str(BIN / "aws"), "ec2", "stop-instances", "--instance-ids", instance_id],
        "no prestart": [sys.executable, "-c", NO_PRESTART, *stop],
        "full teardown": [sys.executable, "-c", FULL_TEARDOWN, *stop],
        "full model": [str(BIN / "snoozebot"), *stop],
    }


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120, check=False
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    from snoozebot.cli.demo import local_ec2

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with local_ec2() as ec2, tempfile.TemporaryDirectory(prefix="bench-aws-stop-") as scratch:
        [instance_id] = [
            i["InstanceId"]
            for i in ec2.client.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
        ]
        env = bench_env(ec2.endpoint, Path(scratch))
        (Path(scratch) / "no-models").mkdir()
        envs = {"full model": {**env, "AWS_DATA_PATH": str(Path(scratch) / "no-models")}}
        samples: dict[str, list[float]] = {name: [] for name in commands(instance_id)}
        for name, argv in commands(instance_id).items():  # warm the OS caches (and the model cache) once
            timed(argv, envs.get(name, env))
        for _ in range(args.rounds):
            for name, argv in commands(instance_id).items():
                ec2.client.start_instances(InstanceIds=[instance_id])  # untimed: each run stops a running one
                samples[name].append(timed(argv, envs.get(name, env)))
        state = ec2.client.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0][
            "State"
        ]
        assert state["Name"] == "stopped", state

    medians = {name: statistics.median(values) for name, values in samples.items()}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"single stop against local moto EC2, {args.rounds} rounds, {os.cpu_count()} CPUs, load average {load}:")
    for name, value in medians.items():
        spread = f"min {min(samples[name]) * 1000:.0f} / max {max(samples[name]) * 1000:.0f} ms"
        print(f"  {name:<14} {value * 1000:7.0f} ms   ({spread})")
    vs_boto3 = medians["snoozebot"] / medians["boto3"]
    vs_awscli = medians["snoozebot"] / medians["awscli"]
    print(
        f"snoozebot / boto3  = {vs_boto3:.2f}x   (target <= 1.10x) {'OK' if vs_boto3 <= 1.10 else 'MISSED'}"
    )
    print(
        f"snoozebot / awscli = {vs_awscli:.2f}x   (target <  0.80x) {'OK' if vs_awscli < 0.80 else 'MISSED'}"
    )
    for name in ("no prestart", "full teardown", "full model"):
        saved = medians[name] - medians["snoozebot"]
        print(f"{name:<13} / boto3 = {medians[name] / medians['boto3']:.2f}x   (the layer buys {saved * 1000:+.0f} ms)")


if __name__ == "__main__":
    main()
