"""Shared fixtures: an isolated state dir and config for every test, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SNOOZEBOT = str(Path(sys.executable).with_name("snoozebot"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own state dir, an empty config, and no cloud credentials leaking in."""
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("SNOOZEBOT_HOME", str(home))
    monkeypatch.setenv("SNOOZEBOT_CONFIG", str(config))
    monkeypatch.delenv("SNOOZEBOT_TIMEOUT", raising=False)
    monkeypatch.delenv("SNOOZEBOT_AGENT_URL", raising=False)
    monkeypatch.delenv("SNOOZEBOT_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield home


@dataclass
class Result:
    """A finished ``snoozebot`` process."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Run the real ``snoozebot`` console script in a subprocess, as a user types it."""
    import time

    started = time.monotonic()
    proc = subprocess.run(
        [SNOOZEBOT, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        input=input,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


@pytest.fixture
def cli() -> Any:
    """The :func:`run_cli` helper as a fixture."""
    return run_cli
