"""Benchmark: the cost of shared state, PostgreSQL on loopback against SQLite in the state directory.

Two measurements, each run as fresh processes, the two backends interleaved round by round:

  stop       .venv/bin/snoozebot instance stop ID -p aws      (local moto EC2, one instance)
  schedule   .venv/bin/snoozebot schedule run -p memory        (the memory fixture provider, 1,000
             tagged instances, every one stopped at a boundary; instances and records reset untimed)

  agent      `snoozebot agent serve` on each backend, the memory provider: GET /api/plugins and
             an audited POST .../instances/mem-N/stop (each connection its own instance), both at
             concurrency 32 (benchmarks/bench_agent.py's load generator)

PostgreSQL is a temporary cluster of Debian's binaries (tests/pg.py) with fsync on,
on 127.0.0.1. Prints each median and the ratios; target (docs/shared-state.md): under
1.10x SQLite.

Usage: .venv/bin/python benchmarks/bench_state.py [--rounds 10] [--schedule-rounds 5] [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SCHEDULE = """
[providers.memory]
state_file = "{cloud}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""
NOW = "2026-11-23T19:05:00+01:00"

COUNT = 1000


def run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{argv[1:3]} failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    return elapsed


def report(title: str, samples: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{title}:")
    for name, value in medians.items():
        spread = f"min {min(samples[name]) * 1000:.0f} / max {max(samples[name]) * 1000:.0f} ms"
        print(f"  {name:<22} {value * 1000:7.0f} ms   ({spread})")
    for name in medians.keys() - {"sqlite"}:
        ratio = medians[name] / medians["sqlite"]
        print(f"  {name} / sqlite = {ratio:.2f}x   (target < 1.10x) {'OK' if ratio < 1.10 else 'MISSED'}")


def bench_stop(ec2, envs: dict[str, dict[str, str]], rounds: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    [instance_id] = [
        i["InstanceId"] for i in ec2.client.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"]
    ]
    stop = ["instance", "stop", instance_id, "-p", "aws"]
    variants = {name: ([str(BIN / "snoozebot"), *stop], env) for name, env in envs.items()}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for argv, env in variants.values():  # warm the caches, create the schema
        run(argv, env)
    for _ in range(rounds):
        for name, (argv, env) in variants.items():
            ec2.client.start_instances(InstanceIds=[instance_id])  # untimed: each run stops a running one
            samples[name].append(run(argv, env))
    return samples


def bench_schedule(envs: dict[str, dict[str, str]], scratch: Path, rounds: int) -> dict[str, list[float]]:
    cloud = scratch / "cloud.json"
    config = scratch / "schedule.toml"
    config.write_text(SCHEDULE.format(cloud=cloud))
    running = {
        f"mem-{i}": {"state": "running", "name": f"m{i}", "tags": {"snoozebot-schedule": "office-hours"}}
        for i in range(COUNT)
    }
    argv = [str(BIN / "snoozebot"), "schedule", "run", "-p", "memory", "--now", NOW]
    samples: dict[str, list[float]] = {name: [] for name in envs}
    for _ in range(rounds):
        for name, base in envs.items():
            env = {**base, "SNOOZEBOT_CONFIG": str(config)}
            cloud.write_text(json.dumps(running))  # untimed: every instance running, no previous run
            run([str(BIN / "snoozebot"), "schedule", "reset", "-p", "memory"], env)
            samples[name].append(run(argv, env))
        assert {v["state"] for v in json.loads(cloud.read_text()).values()} == {"stopped"}
    return samples


AGENT_CONFIG = """
[providers.memory]
count = "32"
"""


def bench_agents(envs: dict[str, dict[str, str]], scratch: Path, requests: int) -> dict[str, dict[str, dict[str, float]]]:
    from bench_agent import Agent, load

    config = scratch / "agent.toml"
    config.write_text(AGENT_CONFIG)
    found: dict[str, dict[str, dict[str, float]]] = {}
    for name, env in envs.items():
        home = Path(env["SNOOZEBOT_HOME"])
        home.mkdir(exist_ok=True)
        (home / "loaded.json").write_text('{"loaded": ["memory"]}')
        token = subprocess.run(
            [str(BIN / "snoozebot"), "agent", "token", "create", "--role", "operator", "--name", "bench"],
            env=env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout.strip()
        agent = Agent(home, config, env=env)
        try:
            found[name] = {
                "GET /api/plugins": load(agent, "/api/plugins", token, concurrency=32, requests=requests),
                "POST .../stop (audited)": load(
                    agent, "/api/providers/memory/instances/mem-{n}/stop", token,
                    concurrency=32, requests=requests // 4, method="POST",
                ),
            }
        finally:
            agent.stop()
    return found


def report_agents(found: dict[str, dict[str, dict[str, float]]]) -> None:
    print("through the agent, concurrency 32:")
    for what in found["sqlite"]:
        cells = "   ".join(
            f"{name} {found[name][what]['rps']:6.0f} req/s (p50 {found[name][what]['p50_ms']:.1f} ms)" for name in found
        )
        ratio = found["postgresql"][what]["rps"] / found["sqlite"][what]["rps"]
        print(f"  {what:<24} {cells}   postgresql / sqlite = {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--schedule-rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="GETs per agent measurement (a quarter as stops)")
    args = parser.parse_args()

    from pg import pg_cluster

    from snoozebot.cli.demo import local_ec2

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with local_ec2() as ec2, pg_cluster(durable=True) as server, tempfile.TemporaryDirectory(
        prefix="bench-state-"
    ) as scratch:
        base = bench_env(ec2.endpoint, Path(scratch))
        envs = {
            "sqlite": {**base, "SNOOZEBOT_HOME": str(Path(scratch) / "home-sqlite")},
            "postgresql": {
                **base,
                "SNOOZEBOT_HOME": str(Path(scratch) / "home-pg"),
                "SNOOZEBOT_DATABASE_URL": server.new_database(),
            },
        }
        envs["sqlite"].pop("SNOOZEBOT_DATABASE_URL", None)
        stop = bench_stop(ec2, envs, args.rounds)
        schedule = bench_schedule(envs, Path(scratch), args.schedule_rounds)
        agents = bench_agents(envs, Path(scratch), args.requests)

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}")
    report(f"instance stop against local moto EC2, {args.rounds} rounds", stop)
    report(f"schedule run over {COUNT} memory instances (all stopped), {args.schedule_rounds} rounds", schedule)
    report_agents(agents)


if __name__ == "__main__":
    main()
