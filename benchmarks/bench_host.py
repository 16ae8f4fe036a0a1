"""Plugin host benchmarks (issue 2), reported as ratios measured in one run.

1. `snoozebot plugins list` against `python -c "import typer"` and against a
   minimal one-command Typer "hello" app (the floor; budget <= 1.25x), by wall
   time and by CPU time (user + system of the child: on a shared machine the
   steadier of the two). Two more contenders show what building only the named
   group and command buys (docs/architecture.md, "Start-up speed"): the same
   `plugins list` run through the whole command tree, and through the whole
   `plugins` group; and one more what the requirement parser's fast path buys:
   every requirement parsed by packaging.requirements instead.
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


RUN_TREE = """
import sys, typer.main
from snoozebot.cli.app import build_app
command = typer.main.get_command(build_app(sys.argv[1:2]))
command.main(args=["plugins", "list"], prog_name="snoozebot", standalone_mode=False)
"""
"""``plugins list`` through a tree built for argv[1:2]: () is every group, ("plugins",) the whole group."""
PACKAGING_PARSER = """
import sys
from snoozebot.host import _requirement, requirements
requirements.parse = _requirement._standard
from snoozebot.cli.main import main
sys.argv[1:] = ["plugins", "list"]
main()
"""
"""``plugins list`` with every requirement parsed by packaging.requirements (snoozebot/host/_requirement.py)."""


def _time_command(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of ``argv``."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode})")
    return wall, usage.ru_utime + usage.ru_stime


def bench_plugins_list(runs: int, env: dict[str, str]) -> None:
    snoozebot = str(Path(sys.executable).with_name("snoozebot"))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(HELLO_APP)
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "typer hello app": [sys.executable, fh.name, "--name", "x"],
        "plugins list": [snoozebot, "plugins", "list"],
        "list, whole group": [sys.executable, "-c", RUN_TREE, "plugins"],
        "list, whole tree": [sys.executable, "-c", RUN_TREE],
        "list, packaging": [sys.executable, "-c", PACKAGING_PARSER],
    }
    wall: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    try:
        _time_command(commands["plugins list"], env)  # fills stevedore's entry-point cache
        for _ in range(runs):  # interleaved, so machine noise hits them alike
            for label, argv in commands.items():
                w, c = _time_command(argv, env)
                wall[label].append(w)
                cpu[label].append(c)
    finally:
        os.unlink(fh.name)
    med = {label: (statistics.median(wall[label]), statistics.median(cpu[label])) for label in commands}
    for label, (w, c) in med.items():
        print(f"  {label:<18} median wall {w * 1000:7.1f} ms   cpu {c * 1000:7.1f} ms")
    for label in ("plugins list", "list, whole group", "list, whole tree", "list, packaging"):
        for base, target in (("import typer", ""), ("typer hello app", " (target <= 1.25)")):
            ratios = "   ".join(f"{kind} {med[label][i] / med[base][i]:.2f}x" for i, kind in enumerate(("wall", "cpu")))
            shown = target if label == "plugins list" else ""
            print(f"  ratio {label} / {base:<15}: {ratios}{shown}")


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
    parser.add_argument("--list-only", action="store_true", help="measure only `plugins list` start-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SNOOZEBOT_HOME": home, "SNOOZEBOT_CONFIG": os.devnull + ".none"}
        env.pop("SNOOZEBOT_CONFIG")
        os.environ["SNOOZEBOT_HOME"] = home
        print("plugins list start-up:")
        bench_plugins_list(args.runs, env)
        if args.list_only:
            return
        print("round trip:")
        bench_round_trip(args.calls, Path(home))
        print("worker start methods:")
        bench_start_methods(max(3, args.runs // 2))


if __name__ == "__main__":
    main()
