"""Benchmark: `snoozebot instance stop RG/NAME -p azure` against bare azure-mgmt-compute scripts.

All commands deallocate one running VM of the same fake ARM server
(tests/fake_arm.py, on 127.0.0.1 in this process), with a dummy bearer token,
each in a fresh Python process. Runs are interleaved; medians, minimums and their
ratios are printed (target: at most 1.1x the bare script), with the CPU time each
command used (snoozebot's host and worker together).

- "bare sdk (same calls)": begin_deallocate plus a GET with the instance view,
  the two requests snoozebot makes (it returns the VM's state after the request);
- "bare sdk (deallocate only)": begin_deallocate alone, the least a script can do.

Both bare scripts import azure-mgmt-compute and build a client, as the worker
does; neither imports azure-identity (anonymous credentials).

    .venv/bin/python benchmarks/bench_azure_stop.py [--runs 15]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_arm import SUBSCRIPTION, FakeArm  # noqa: E402

GROUP = "bench-rg"
SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
BARE_SCRIPT = """
import os, sys, time
from azure.core.credentials import AccessToken
from azure.mgmt.compute import ComputeManagementClient

class Anonymous:
    def get_token(self, *scopes, **kwargs):
        return AccessToken("anonymous", int(time.time()) + 3600)

client = ComputeManagementClient(Anonymous(), os.environ["AZURE_SUBSCRIPTION_ID"], base_url=sys.argv[2])
group, name = sys.argv[1].split("/")
client.virtual_machines.begin_deallocate(group, name, enforce_https=False)
if sys.argv[3] == "get":
    vm = client.virtual_machines.get(group, name, expand="instanceView", enforce_https=False)
    print([s.code for s in vm.properties.instance_view.statuses])
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time, and CPU time of the command's processes (a host reaps its workers)."""
    cpu, started = _children_cpu(), time.perf_counter()
    proc = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeArm() as fake:
        config = Path(tmp) / "config.toml"
        config.write_text(f'[providers.azure]\nendpoint = "{fake.endpoint}"\ncredentials = "anonymous"\n')
        env = {
            **os.environ,
            "SNOOZEBOT_HOME": str(Path(tmp) / "home"),
            "SNOOZEBOT_CONFIG": str(config),
            "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
        }
        commands = {
            "snoozebot": lambda iid: [SNOOZEBOT, "instance", "stop", iid, "-p", "azure"],
            "bare sdk (same calls)": lambda iid: [
                sys.executable,
                "-c",
                BARE_SCRIPT,
                iid,
                fake.endpoint,
                "get",
            ],
            "bare sdk (deallocate only)": lambda iid: [
                sys.executable,
                "-c",
                BARE_SCRIPT,
                iid,
                fake.endpoint,
                "-",
            ],
        }
        times: dict[str, list[float]] = {label: [] for label in commands}
        cpus: dict[str, list[float]] = {label: [] for label in commands}
        for run in range(args.runs + 1):  # run 0 warms caches and is not counted
            for index, (label, command) in enumerate(commands.items()):
                name = f"vm-{index}-{run}"
                fake.add_vm(GROUP, name)
                seconds, cpu = timed(command(f"{GROUP}/{name}"), env)
                if fake.power(GROUP, name) == "running":
                    raise SystemExit(f"{label} did not deallocate {GROUP}/{name}")
                if run:
                    times[label].append(seconds)
                    cpus[label].append(cpu)

    medians = {label: statistics.median(values) for label, values in times.items()}
    for label, median in medians.items():
        spread = f"min {min(times[label]) * 1000:.0f} ms, max {max(times[label]) * 1000:.0f} ms"
        cpu = statistics.median(cpus[label]) * 1000
        print(f"{label:28s} median {median * 1000:6.0f} ms  ({spread}; CPU {cpu:.0f} ms; {args.runs} runs)")
    for baseline in ("bare sdk (same calls)", "bare sdk (deallocate only)"):
        ratio = medians["snoozebot"] / medians[baseline]
        best = min(times["snoozebot"]) / min(times[baseline])
        print(f"ratio snoozebot / {baseline}: {ratio:.2f}x of medians, {best:.2f}x of minimums (target <= 1.10x)")
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores (snoozebot overlaps two processes;")
    print("on busy cores that overlap is lost, and the minimums are the closest to an idle machine)")


if __name__ == "__main__":
    main()
