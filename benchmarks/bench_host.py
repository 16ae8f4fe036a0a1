"""Plugin host benchmarks (issue 2), reported as ratios measured in one run.

1. `snoozebot plugins list` against `python -c "import typer"` and against a
   minimal one-command Typer "hello" app (the floor DESIGN.md section 8 sets).
2. Host <-> worker round trip of a no-op call (`ping`), median over many calls.
3. Worker start-to-ready (launch + handshake) for each start method.

Run: .venv/bin/python benchmarks/bench_host.py [--runs N]
Uses the `memory` fixture provider (tests/fixture_plugins) and a throwaway state dir.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELLO_APP = """
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "world") -> None:
    print(f"hello {name}")
app()
"""


def _time_command(argv: list[str], runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, timeout=60)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def bench_plugins_list(runs: int, env: dict[str, str]) -> None:
    snoozebot = str(Path(sys.executable).with_name("snoozebot"))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(HELLO_APP)
    try:
        # interleave the three so machine noise hits them alike
        results: dict[str, list[float]] = {"import typer": [], "typer hello app": [], "plugins list": []}
        commands = {
            "import typer": [sys.executable, "-c", "import typer"],
            "typer hello app": [sys.executable, fh.name, "--name", "x"],
            "plugins list": [snoozebot, "plugins", "list"],
        }
        for _ in range(runs):
            for label, argv in commands.items():
                results[label].append(_time_command(argv, 1, env))
    finally:
        os.unlink(fh.name)
    medians = {label: statistics.median(samples) for label, samples in results.items()}
    for label, value in medians.items():
        print(f"  {label:<18} median {value * 1000:7.1f} ms")
    print(f"  ratio plugins list / import typer    : {medians['plugins list'] / medians['import typer']:.2f}x (target <= 1.5)")
    print(f"  ratio plugins list / typer hello app : {medians['plugins list'] / medians['typer hello app']:.2f}x (target <= 1.0)")


def bench_round_trip(calls: int, state: Path) -> None:
    from snoozebot.config import Config
    from snoozebot.host.manager import PluginManager

    manager = PluginManager(config=Config(), state_directory=state, timeout=10)
    try:
        worker = manager.supervisor("memory").worker()
        for _ in range(200):  # warm up
            worker.call("ping", {}, timeout=10)
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            worker.call("ping", {}, timeout=10)
            samples.append(time.perf_counter() - started)
    finally:
        manager.shutdown()
    samples.sort()
    p99 = samples[int(len(samples) * 0.99)]
    print(f"  no-op round trip over {calls} calls: median {statistics.median(samples) * 1e6:.0f} us, "
          f"p99 {p99 * 1e6:.0f} us (target median < 200 us)")


def bench_start_methods(runs: int) -> None:
    from snoozebot.host.process import WorkerProcess

    for method in ("fork", "forkserver", "spawn"):
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            worker = WorkerProcess.launch("memory", {}, start_method=method)
            worker.wait_ready(timeout=30)
            samples.append(time.perf_counter() - started)
            worker.shutdown()
        print(f"  start-to-ready {method:<10} median {statistics.median(samples) * 1000:6.1f} ms "
              f"(min {min(samples) * 1000:.1f}, max {max(samples) * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SNOOZEBOT_HOME": home, "SNOOZEBOT_CONFIG": os.devnull + ".none"}
        env.pop("SNOOZEBOT_CONFIG")
        os.environ["SNOOZEBOT_HOME"] = home
        print("plugins list start-up:")
        bench_plugins_list(args.runs, env)
        print("round trip:")
        bench_round_trip(args.calls, Path(home))
        print("worker start methods:")
        bench_start_methods(max(3, args.runs // 2))


if __name__ == "__main__":
    main()
