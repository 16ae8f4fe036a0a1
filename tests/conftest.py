"""Shared fixtures: an isolated state dir and config for every test, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
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
    monkeypatch.delenv("SNOOZEBOT_DATABASE_URL", raising=False)
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
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is the result
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


def leftover_workers(home: Path) -> list[Any]:
    """Live snoozebot processes started with this test's SNOOZEBOT_HOME (workers included)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("SNOOZEBOT_HOME") == str(home) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def moto_ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's EC2 server on 127.0.0.1, reset to an empty state; yields its endpoint URL.

    Dummy credentials and region are set in the environment, so both boto3 in the
    test and the `snoozebot` subprocesses (via AWS_ENDPOINT_URL) talk to it.
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its backends per process, not per server: start every test empty
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield endpoint
    finally:
        server.stop()


DOCS = Path(__file__).resolve().parent.parent / "docs"


def doc_table(doc: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under ``## heading`` in ``docs/<doc>``, cells stripped."""
    text = (DOCS / doc).read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One PostgreSQL cluster for the session (tests/pg.py); stopped at the end."""
    from pg import pg_cluster

    with pg_cluster() as server:
        yield server


@pytest.fixture
def pg_url(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on the session's server, named by $SNOOZEBOT_DATABASE_URL for this test."""
    url = str(pg_server.new_database())
    monkeypatch.setenv("SNOOZEBOT_DATABASE_URL", url)
    yield url
    forget_store(url)


def forget_store(url: str) -> None:
    """Close the connections this test process keeps to ``url`` (open_store keeps one store per URL).

    Without it every test's database would keep a few idle connections of the
    test process open until the session ends, past the server's connection limit.
    """
    from unittest import mock

    import snoozebot.store

    with mock.patch.dict(os.environ, {snoozebot.store.DATABASE_URL_ENV: url}):  # this URL's store
        snoozebot.store.forget_store(snoozebot.store.open_store(Path("."), None))


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``both_backends`` (or using ``state_backend``) runs once per state backend.

    A test whose module-scoped fixtures (one agent for a module) request
    ``module_backend`` is parametrized there instead, at module scope: once per
    backend when marked, with SQLite alone otherwise (the module's other tests
    share the SQLite agent).
    """
    marked = metafunc.definition.get_closest_marker("both_backends") is not None
    if "module_backend" in metafunc.fixturenames:
        metafunc.parametrize("module_backend", BACKENDS if marked else BACKENDS[:1], indirect=True, scope="module")
        return
    if marked and "state_backend" not in metafunc.fixturenames:
        metafunc.fixturenames.append("state_backend")  # pruned again after this hook: see _marked_backend
    if "state_backend" in metafunc.fixturenames:
        metafunc.parametrize("state_backend", BACKENDS, indirect=True)


@pytest.fixture(autouse=True)
def _marked_backend(request: pytest.FixtureRequest) -> None:
    """Set ``state_backend`` up for a test that is only marked.

    pytest prunes a fixture name added during parametrization from the test's
    fixtures, so without this the marked test ran twice, both times on SQLite.
    """
    if request.node.get_closest_marker("both_backends"):
        request.getfixturevalue("state_backend")


@pytest.fixture
def state_backend(request: pytest.FixtureRequest, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``sqlite`` (the state directory) or ``postgresql`` (a fresh database, $SNOOZEBOT_DATABASE_URL set).

    In a module that shares one agent (``module_backend``), the module's backend and database.
    """
    if "module_backend" in request.fixturenames:
        backend, url = request.getfixturevalue("module_backend")
        if url:
            monkeypatch.setenv("SNOOZEBOT_DATABASE_URL", url)
        return str(backend)
    backend = str(request.param)
    if backend == "postgresql":
        request.getfixturevalue("pg_url")
    return backend


@pytest.fixture(scope="module")
def module_backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    """The backend of a module's shared fixtures, and its database URL (None for SQLite).

    One fresh database for the module; $SNOOZEBOT_DATABASE_URL names it while the
    module's fixtures start and stop (an agent started then uses it), and
    ``state_backend`` sets it again in each test.
    """
    backend = str(request.param)
    url = str(request.getfixturevalue("pg_server").new_database()) if backend == "postgresql" else None
    with pytest.MonkeyPatch.context() as patch:
        if url:
            patch.setenv("SNOOZEBOT_DATABASE_URL", url)
        else:
            patch.delenv("SNOOZEBOT_DATABASE_URL", raising=False)
        yield backend, url
    if url:
        forget_store(url)
