"""Benchmark: `snoozebot instance stop ZONE/NAME -p gcp` against a bare googleapiclient script.

Both stop one RUNNING instance of the same fake Compute Engine server
(tests/fake_gce.py, on 127.0.0.1 in this process), with the static discovery
document and anonymous credentials, each in a fresh Python process. Runs are
interleaved; the medians and their ratio are printed (target: at most 1.1x),
and the ratio of the fastest runs (those the rest of the machine disturbed least),
with CPU time and the load average: the host's start-up and the gcp worker's
run side by side, so the wall-clock ratio needs a free core to be met. When the
test fixtures are installed, the same command with the in-memory provider is
timed too: the host's own floor.

    .venv/bin/python benchmarks/bench_gcp_stop.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_gce import FakeComputeEngine  # noqa: E402

ZONE = "us-central1-a"
SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
BARE_SCRIPT = """
import os, sys, uuid
from google.auth.credentials import AnonymousCredentials
from googleapiclient.discovery import build

compute = build(
    "compute", "v1", credentials=AnonymousCredentials(), static_discovery=True,
    client_options={"api_endpoint": os.environ["CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"]},
)
zone, name = sys.argv[1].split("/")
compute.instances().stop(
    project=os.environ["GOOGLE_CLOUD_PROJECT"], zone=zone, instance=name, requestId=str(uuid.uuid4())
).execute()
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, the process and the children it reaped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeComputeEngine() as fake:
        config = Path(tmp) / "config.toml"
        config.write_text("")
        env = {
            **os.environ,
            "SNOOZEBOT_HOME": str(Path(tmp) / "home"),
            "SNOOZEBOT_CONFIG": str(config),
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": fake.base_url,
            "GOOGLE_CLOUD_PROJECT": fake.project,
        }
        commands = {
            "snoozebot": lambda iid: [SNOOZEBOT, "instance", "stop", iid, "-p", "gcp"],
            "bare googleapiclient": lambda iid: [sys.executable, "-c", BARE_SCRIPT, iid],
        }
        if any(ep.name == "memory" for ep in entry_points(group="snoozebot.providers")):
            # The host's own floor: the same command with an in-memory provider (no cloud SDK).
            commands["snoozebot, memory"] = lambda _iid: [SNOOZEBOT, "instance", "stop", "mem-0", "-p", "memory"]
        times: dict[str, list[float]] = {label: [] for label in commands}
        cpu: dict[str, list[float]] = {label: [] for label in commands}
        for run in range(args.runs + 1):  # run 0 warms caches and is not counted
            for label, command in commands.items():
                name = f"{label.split()[0].rstrip(',')}-{run}"
                fake.add_instance(ZONE, name)
                seconds, cpu_seconds = timed(command(f"{ZONE}/{name}"), env)
                if label == "snoozebot" and fake.status(ZONE, name) == "RUNNING":
                    raise SystemExit(f"{label} did not stop {ZONE}/{name}")
                if run:
                    times[label].append(seconds)
                    cpu[label].append(cpu_seconds)

    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")
    for label, median in medians.items():
        spread = f"min {min(times[label]) * 1000:.0f} ms, max {max(times[label]) * 1000:.0f} ms"
        cpu_ms = statistics.median(cpu[label]) * 1000
        print(f"{label:22s} median {median * 1000:6.0f} ms  ({spread}; CPU {cpu_ms:.0f} ms; {args.runs} runs)")
    ratio = medians["snoozebot"] / medians["bare googleapiclient"]
    print(f"ratio snoozebot / bare googleapiclient: {ratio:.2f}x (target <= 1.10x)")
    # The fastest runs are the ones the rest of the machine disturbed least.
    best = min(times["snoozebot"]) / min(times["bare googleapiclient"])
    print(f"ratio of the fastest runs: {best:.2f}x")


if __name__ == "__main__":
    main()
