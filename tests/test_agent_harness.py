"""A real agent for tests: `snoozebot agent serve --port 0` in a subprocess on 127.0.0.1.

Imported by the other test_agent_* modules (it holds no tests itself). The agent
prints the port it bound; every wait is bounded; leaving the context sends
SIGTERM, waits for the exit, and checks that no snoozebot process of that home
is left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from conftest import SNOOZEBOT, leftover_workers

from snoozebot.agent.tokens import Role, TokenStore

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


@dataclass
class Agent:
    """A running agent process and what a test needs to talk to it."""

    url: str
    home: Path
    process: subprocess.Popen[str]
    tokens: dict[str, str]
    stderr_lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None
    stdout_lines: list[str] = field(default_factory=list)
    stdout_reader: threading.Thread | None = None

    def headers(self, who: str | None) -> dict[str, str]:
        """Authorization for the token named ``who`` (None: no header)."""
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def client(self, who: str | None = "admin", timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(who), timeout=timeout)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_lines)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait (bounded) for the exit; returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
            raise AssertionError(f"agent did not stop within {STOP_TIMEOUT}s after {sig}") from None
        for reader in (self.reader, self.stdout_reader):
            if reader is not None:
                reader.join(timeout=5)  # the last lines of stderr and stdout
        return code


def make_tokens(home: Path) -> dict[str, str]:
    """One token per role, named after the role, plus nothing else."""
    store = TokenStore(home)
    return {role.value: store.create(name=role.value, role=role) for role in Role}


def wait_gone(home: Path, timeout: float = 10.0) -> list[object]:
    """Leftover processes of ``home`` after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = leftover_workers(home)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@contextmanager
def running_agent(
    home: Path,
    config: Path,
    *,
    timeout: float = 10.0,
    extra_env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[Agent]:
    """Start an agent for ``home`` (``args`` added to its command line); stop it and check for leftovers."""
    tokens = make_tokens(home) if not TokenStore(home).list() else {}
    env = {**os.environ, "SNOOZEBOT_HOME": str(home), "SNOOZEBOT_CONFIG": str(config), **(extra_env or {})}
    process = subprocess.Popen(
        [SNOOZEBOT, "agent", "serve", "--port", "0", "--timeout", str(timeout), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    found = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if _LISTENING.search(line):
                found.set()

    out: list[str] = []

    def pump_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            out.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    stdout_reader = threading.Thread(target=pump_stdout, daemon=True)
    stdout_reader.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not found.is_set() and process.poll() is None and time.monotonic() < deadline:
        found.wait(0.05)
    match = next((m for m in map(_LISTENING.search, lines) if m), None)
    if match is None:
        process.kill()
        process.wait(timeout=5)
        raise AssertionError(f"agent did not start:\n{''.join(lines)}")
    agent = Agent(match.group(1), home, process, tokens, lines, reader, out, stdout_reader)
    _wait_healthy(agent)
    try:
        yield agent
    finally:
        agent.stop()
        left = wait_gone(home)
        assert not left, f"processes left behind: {left}"


def _wait_healthy(agent: Agent) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{agent.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("agent never answered /healthz")
