"""Agent benchmarks (issue 5): requests/s and p50/p99 latency, with baselines from the same run.

1. GET /api/plugins at concurrency 1 and 32 (target: >= 1,500 requests/s on 2 cores),
   next to GET /healthz (no token, no work: uvicorn + FastAPI's own floor).
2. GET /api/providers/memory/instances/ID through the agent to the in-memory provider,
   at concurrency 1 and 32, next to the worker call itself (ProviderClient.get_instance_info
   in this process against its own `memory` worker). Target: the agent adds < 2 ms at p50.

3. GET of an unknown provider's instance (404), which may rescan the installed providers.

With --without-caches the agent runs with its two time-based caches switched off
(the loaded set re-read on every request, a rescan on every unknown name), to show
what they buy; compare the rows of two runs.

The agent runs as `snoozebot agent serve --port 0` in a subprocess with a throwaway state
dir. The load generator is a small keep-alive HTTP/1.1 client on raw asyncio streams, so
the client costs far less than the server it measures.

Run: .venv/bin/python benchmarks/bench_agent.py [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from snoozebot.agent.tokens import Role, TokenStore
from snoozebot.config import Config
from snoozebot.host.manager import PluginManager

SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))
WITHOUT_CACHES = """
import sys
from snoozebot.agent import service
service._LOADED_TTL = 0.0
service._RESCAN_INTERVAL = 0.0
from snoozebot.cli.main import main
sys.argv[1:] = ["agent", "serve", "--port", "0"]
main()
"""


class Agent:
    """`snoozebot agent serve` in a subprocess; its URL once it listens."""

    def __init__(
        self, home: Path, config: Path, *, without_caches: bool = False, env: dict[str, str] | None = None
    ) -> None:
        env = {**(env or os.environ), "SNOOZEBOT_HOME": str(home), "SNOOZEBOT_CONFIG": str(config)}
        argv = [sys.executable, "-c", WITHOUT_CACHES] if without_caches else [SNOOZEBOT, "agent", "serve", "--port", "0"]
        self.process = subprocess.Popen(
            argv,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        found = threading.Event()
        self.port = 0

        def pump() -> None:
            assert self.process.stderr is not None
            for line in self.process.stderr:
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if match:
                    self.port = int(match.group(1))
                    found.set()

        threading.Thread(target=pump, daemon=True).start()
        if not found.wait(30):
            self.process.kill()
            raise SystemExit("agent did not start")

    def cpu_seconds(self) -> float:
        """CPU time the agent process has used so far (workers not included)."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


async def _one_connection(
    port: int, request: bytes, count: int, latencies: list[float], expect: int = 200
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            if status != expect:
                raise SystemExit(f"unexpected status {status}: {head!r}")
            length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


def load(
    agent: Agent,
    path: str,
    token: str | None,
    *,
    concurrency: int,
    requests: int,
    expect: int = 200,
    method: str = "GET",
) -> dict[str, float]:
    """Drive ``requests`` requests over ``concurrency`` keep-alive connections.

    ``{n}`` in ``path`` becomes each connection's number (0 to concurrency - 1),
    so that, say, each connection stops its own instance. Besides wall-clock
    numbers, reports the agent process's own CPU time per request (user +
    system, all its threads): the cost that does not depend on what else the
    machine is doing, and ``1 / cpu`` the requests/s one core could serve.
    """
    port = agent.port
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    body = "Content-Length: 0\r\n" if method == "POST" else ""

    def request(n: int) -> bytes:
        return f"{method} {path.format(n=n)} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}{body}\r\n".encode()

    latencies: list[float] = []
    per_connection = max(1, requests // concurrency)

    async def run() -> float:
        started = time.perf_counter()
        await asyncio.gather(
            *(_one_connection(port, request(n), per_connection, latencies, expect) for n in range(concurrency))
        )
        return time.perf_counter() - started

    asyncio.run(_warm(port, request(0), expect))
    before = agent.cpu_seconds()
    elapsed = asyncio.run(run())
    summary = _summary(latencies, elapsed)
    summary["cpu_us"] = (agent.cpu_seconds() - before) / len(latencies) * 1e6
    return summary


async def _warm(port: int, request: bytes, expect: int) -> None:
    await _one_connection(port, request, 200, [], expect)


def _summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


def direct_worker_call(requests: int) -> dict[str, float]:
    """The worker call itself: ProviderClient.get_instance_info, one at a time, in this process."""
    with tempfile.TemporaryDirectory() as home:
        manager = PluginManager(config=Config(), state_directory=Path(home), timeout=30)
        try:
            client = manager.client("memory")
            call: Callable[[], object] = lambda: client.get_instance_info("mem-1")  # noqa: E731
            for _ in range(200):
                call()
            latencies = []
            started = time.perf_counter()
            for _ in range(requests):
                t0 = time.perf_counter()
                call()
                latencies.append(time.perf_counter() - t0)
            return _summary(latencies, time.perf_counter() - started)
        finally:
            manager.shutdown()


def _row(label: str, result: dict[str, float]) -> None:
    cpu = f"   agent CPU {result['cpu_us']:5.0f} us/req" if "cpu_us" in result else ""
    print(
        f"{label:<46} {result['rps']:>6.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
        f"p99 {result['p99_ms']:6.2f} ms{cpu}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=4000, help="requests per measurement (default 4000)")
    parser.add_argument("--without-caches", action="store_true", help="switch off the agent's time-based caches")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        config = Path(tmp) / "config.toml"
        config.write_text("")
        (home / "loaded.json").write_text('{"loaded": ["memory"]}')
        token = TokenStore(home).create(name="bench", role=Role.VIEWER)
        agent = Agent(home, config, without_caches=args.without_caches)
        try:
            results = {}
            for concurrency in (1, 32):
                results[f"healthz c={concurrency}"] = load(
                    agent, "/healthz", None, concurrency=concurrency, requests=args.requests
                )
                results[f"plugins c={concurrency}"] = load(
                    agent, "/api/plugins", token, concurrency=concurrency, requests=args.requests
                )
                results[f"info c={concurrency}"] = load(
                    agent,
                    "/api/providers/memory/instances/mem-1",
                    token,
                    concurrency=concurrency,
                    requests=args.requests,
                )
            results["unknown c=1"] = load(
                agent, "/api/providers/nosuch/instances/x", token, concurrency=1, requests=args.requests // 10,
                expect=404,
            )
        finally:
            agent.stop()
    direct = direct_worker_call(args.requests)

    print(f"cores: {os.cpu_count()}, requests per row: {args.requests}")
    for concurrency in (1, 32):
        _row(f"GET /healthz (floor), c={concurrency}", results[f"healthz c={concurrency}"])
        _row(f"GET /api/plugins, c={concurrency}", results[f"plugins c={concurrency}"])
        _row(f"GET .../instances/mem-1 via agent, c={concurrency}", results[f"info c={concurrency}"])
    _row("worker call itself (ProviderClient), c=1", direct)
    _row("GET unknown provider (404), c=1", results["unknown c=1"])
    best = max(results["plugins c=1"]["rps"], results["plugins c=32"]["rps"])
    floor = max(results["healthz c=1"]["rps"], results["healthz c=32"]["rps"])
    added = results["info c=1"]["p50_ms"] - direct["p50_ms"]
    print()
    capacity = 1e6 / results["plugins c=32"]["cpu_us"]
    print(f"GET /api/plugins: {best:.0f} req/s measured (target >= 1500): {'OK' if best >= 1500 else 'MISSED'}; "
          f"{best / floor:.2f}x the /healthz floor; agent CPU per request allows {capacity:.0f} req/s per core")
    print(f"instance info: agent adds {added:.2f} ms at p50 over the worker call (target < 2 ms): "
          f"{'OK' if added < 2 else 'MISSED'}; {results['info c=1']['p50_ms'] / direct['p50_ms']:.2f}x")


if __name__ == "__main__":
    main()
