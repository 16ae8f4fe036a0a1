"""What `snoozebot connect`'s relay costs: throughput and round-trip latency over loopback.

A TCP server on 127.0.0.1 stands in for the machine. Each contender carries
one connection to it, through its stdin/stdout where it is a relay process:

- ``direct``: a plain socket from this process (the latency baseline);
- ``python``: a bare Python relay (two loops, 64 KiB reads; the throughput baseline);
- ``socat``: ``socat - TCP:127.0.0.1:PORT,nodelay``, when socat is installed;
- ``connect``: the real ``snoozebot connect devbox -p aws --port PORT`` against
  moto's EC2 server (the instance is found, running, and tagged
  ``snoozebot-address=127.0.0.1``); its start-up is not timed.

Over each connection: ``--pings`` one-byte round trips (median), then
``--megabytes`` down (machine to stdout) and up (stdin to machine), timed from
the request to the last byte. Contenders are interleaved, ``--rounds`` times;
medians are reported, with the relay's throughput as a share of the baseline's
and its latency added to a direct connection's.

Run: .venv/bin/python benchmarks/bench_connect.py [--rounds N] [--megabytes N] [--pings N]
Target (issue 17): throughput >= 50% of the bare relay (and of socat), < 1 ms added per round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

BARE_RELAY = """
import os, socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def up():
    while data := os.read(0, 65536):
        s.sendall(data)
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=up, daemon=True).start()
while data := s.recv(65536):
    os.write(1, data)
"""
CHUNK = 1 << 16


def _serve(conn: socket.socket, size: int) -> None:
    """One byte per command: ``p`` echo it, ``d`` send ``size`` bytes, ``u`` read ``size`` then ``k``."""
    block = b"\x5a" * CHUNK
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while command := conn.recv(1):
        if command == b"p":
            conn.sendall(b"p")
        elif command == b"d":
            left = size
            while left:
                left -= conn.send(block[: min(left, CHUNK)])
        elif command == b"u":
            left = size
            while left:
                left -= len(conn.recv(min(left, CHUNK)))
            conn.sendall(b"k")


@contextlib.contextmanager
def machine(size: int) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=lambda c=conn: (_serve(c, size), c.close()), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


@dataclass
class Pipe:
    """Write and read ends of one connection, whatever carries it."""

    write: Callable[[bytes], object]
    read: Callable[[int], bytes]
    close: Callable[[], object]


def _direct(port: int) -> Pipe:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Pipe(sock.sendall, sock.recv, sock.close)


def _process(argv: list[str], env: dict[str, str] | None = None) -> Pipe:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, env=env)
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout

    def close() -> None:
        stdin.close()
        stdout.read()
        proc.wait(timeout=30)

    return Pipe(stdin.write, stdout.read, close)


def _read_exactly(pipe: Pipe, size: int) -> None:
    while size:
        data = pipe.read(min(size, CHUNK))
        if not data:
            raise RuntimeError("the connection closed early")
        size -= len(data)


def measure(pipe: Pipe, *, pings: int, size: int) -> dict[str, float]:
    """Median ping, then seconds down and up, over one connection."""
    pipe.write(b"p")  # the first round trip also waits until the relay is connected
    _read_exactly(pipe, 1)
    times = []
    for _ in range(pings):
        started = time.perf_counter()
        pipe.write(b"p")
        _read_exactly(pipe, 1)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    pipe.write(b"d")
    _read_exactly(pipe, size)
    down = time.perf_counter() - started
    block = b"\xa5" * CHUNK
    started = time.perf_counter()
    pipe.write(b"u")
    for offset in range(0, size, CHUNK):
        pipe.write(block[: min(CHUNK, size - offset)])
    _read_exactly(pipe, 1)
    up = time.perf_counter() - started
    pipe.close()
    return {"rtt": statistics.median(times), "down": down, "up": up}


@contextlib.contextmanager
def snoozebot_env() -> Iterator[dict[str, str]]:
    """moto's EC2 server with a running instance named devbox, addressed at 127.0.0.1."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "config.toml").write_text("")
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "SNOOZEBOT_HOME": home,
            "SNOOZEBOT_CONFIG": str(Path(home) / "config.toml"),
        }
        ec2 = boto3.client(
            "ec2", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        tags = [{"Key": "Name", "Value": "devbox"}, {"Key": "snoozebot-address", "Value": "127.0.0.1"}]
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
        try:
            yield env
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--megabytes", type=int, default=64)
    parser.add_argument("--pings", type=int, default=2000)
    args = parser.parse_args()
    size = args.megabytes * 1_000_000
    snoozebot = str(Path(sys.executable).with_name("snoozebot"))
    with machine(size) as port, snoozebot_env() as env:
        contenders: dict[str, Callable[[], Pipe]] = {
            "direct": lambda: _direct(port),
            "python": lambda: _process([sys.executable, "-c", BARE_RELAY, str(port)]),
            "connect": lambda: _process([snoozebot, "connect", "devbox", "-p", "aws", "--port", str(port)], env),
        }
        if shutil.which("socat"):
            contenders["socat"] = lambda: _process(["socat", "-", f"TCP:127.0.0.1:{port},nodelay"])
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
        for round_ in range(args.rounds):
            names = list(contenders)
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # rotate who goes first
                samples[name].append(measure(contenders[name](), pings=args.pings, size=size))
    median = {name: {k: statistics.median(s[k] for s in runs) for k in ("rtt", "down", "up")}
              for name, runs in samples.items()}
    print(f"{args.rounds} rounds, {args.megabytes} MB each way, {args.pings} one-byte round trips per connection")
    print(f"{'contender':<10} {'rtt us':>8} {'down MB/s':>10} {'up MB/s':>10}")
    for name, m in median.items():
        print(f"{name:<10} {m['rtt'] * 1e6:>8.0f} {size / m['down'] / 1e6:>10.0f} {size / m['up'] / 1e6:>10.0f}")
    connect = median["connect"]
    for base in ("python", "socat"):
        if base in median:
            down = median[base]["down"] / connect["down"]
            up = median[base]["up"] / connect["up"]
            print(f"connect throughput vs {base}: down {down:.0%}, up {up:.0%}")
    for base in ("direct", "python", "socat"):
        if base in median:
            print(f"connect latency added vs {base}: {(connect['rtt'] - median[base]['rtt']) * 1e6:.0f} us per round trip")


if __name__ == "__main__":
    main()
