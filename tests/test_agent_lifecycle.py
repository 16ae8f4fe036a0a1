"""The agent process as a user runs it: start-up loading, SIGTERM/SIGINT, a busy port."""

from __future__ import annotations

import re
import signal
import socket
import threading
from pathlib import Path

import httpx
from conftest import leftover_workers, run_cli
from test_agent_harness import running_agent, wait_gone


def test_start_up_loads_the_persisted_loaded_set(tmp_path: Path, isolated_home: Path) -> None:
    assert run_cli("plugins", "load", "memory").returncode == 0
    with running_agent(isolated_home, tmp_path / "config.toml") as agent, agent.client("viewer") as client:
        [memory] = client.get("/api/plugins").json()
        assert memory["name"] == "memory" and memory["status"] == "running" and memory["pid"]


def test_a_plugin_that_fails_at_start_up_does_not_stop_the_agent(tmp_path: Path, isolated_home: Path) -> None:
    (isolated_home / "loaded.json").write_text('{"loaded": ["broken", "memory", "uninstalled"]}')
    with running_agent(isolated_home, tmp_path / "config.toml") as agent, agent.client("viewer") as client:
        names = {p["name"]: p for p in client.get("/api/plugins").json()}
        assert names["memory"]["status"] == "running"
        assert names["broken"]["status"] != "running"
        assert client.get("/api/providers/broken/instances").status_code == 503
    assert "could not load broken at start-up" in agent.stderr
    assert "could not load uninstalled at start-up" in agent.stderr


def test_sigterm_stops_every_worker_even_with_a_call_in_flight(tmp_path: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=60) as agent:
        with agent.client() as client:
            for name in ("memory", "crashy", "hangy"):
                assert client.post("/api/plugins/load", json={"plugin": name}).status_code == 200
        workers = [p.pid for p in leftover_workers(isolated_home) if p.pid != agent.process.pid]
        assert len(workers) >= 3
        hung: list[object] = []
        caller = threading.Thread(
            target=lambda: hung.append(_get_quietly(agent.url + "/api/providers/hangy/instances", agent))
        )
        caller.start()
        code = agent.stop(signal.SIGTERM)
        caller.join(timeout=30)
    assert code == 0  # a graceful end: workers stopped, exit finalizers run
    assert "Application shutdown complete" in agent.stderr
    assert wait_gone(isolated_home) == []


def test_sigint_exits_130_after_stopping_workers(tmp_path: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml") as agent:
        with agent.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        code = agent.stop(signal.SIGINT)
    assert code == 130
    assert "Application shutdown complete" in agent.stderr
    assert "Traceback" not in agent.stderr


def test_workers_exit_when_the_agent_is_killed(tmp_path: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml") as agent:
        with agent.client() as client:
            for name in ("memory", "noisy"):
                assert client.post("/api/plugins/load", json={"plugin": name}).status_code == 200
        assert agent.stop(signal.SIGKILL) == -signal.SIGKILL
        assert wait_gone(isolated_home) == []  # no orphan worker, no orphan fork server


def test_a_busy_port_is_one_line_and_exit_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        result = run_cli("agent", "serve", "--port", str(port), timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"snoozebot: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
    assert "Traceback" not in result.stderr


def test_serve_help_has_an_example_and_docs_list_every_option() -> None:
    result = run_cli("agent", "serve", "--help")
    assert result.returncode == 0 and "Example: snoozebot agent" in result.stdout
    options = set(re.findall(r"^│\s+(--[a-z][a-z-]+)", result.stdout, re.MULTILINE)) - {"--help"}
    assert {"--host", "--port", "--timeout", "--threads", "--config", "--access-log"} <= options
    guide = (Path(__file__).resolve().parent.parent / "docs" / "agent.md").read_text()
    for option in options:
        assert f"| `{option}` |" in guide, f"docs/agent.md does not document {option}"


def _get_quietly(url: str, agent: object) -> object:
    try:
        return httpx.get(url, headers=agent.headers("viewer"), timeout=30)  # type: ignore[attr-defined]
    except httpx.HTTPError as exc:
        return exc
