"""Process isolation: a plugin's processes are its worker's, and a slow call fails alone.

Real parts only: the `snoozebot` command in a subprocess, a real agent on
127.0.0.1, and the misbehaving fixture plugins `forky` (leaves a grandchild
holding the worker's fds), `parentkiller` (kills its worker's parent) and
`slowpoke` (a listing slower than the timeout) registered as entry points.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from conftest import run_cli
from test_agent_harness import Agent, running_agent, wait_gone

from snoozebot.config import Config
from snoozebot.errors import PluginCrashed
from snoozebot.host.manager import PluginManager


def _orphans(pid_file: Path) -> list[int]:
    """Grandchildren `forky` left (their pids in ``pid_file``) that still run."""
    pids = [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _wait(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _forky(pid_file: Path) -> PluginManager:
    return PluginManager(
        config=Config(), state_directory=Path(os.environ["SNOOZEBOT_HOME"]), timeout=30.0,
        option_overrides={"pid_file": str(pid_file)},
    )


def test_after_the_cli_exits_no_descendant_of_a_worker_survives(isolated_home: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "orphans"
    result = run_cli("instance", "info", "mem-0", "-p", "forky", "-o", f"pid_file={pid_file}", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()["id"] == "mem-0"
    assert pid_file.read_text().strip(), "forky left no grandchild: the test proves nothing"
    _wait(lambda: not _orphans(pid_file), "the plugin's grandchild outlived the CLI")
    assert wait_gone(isolated_home, timeout=3) == []


def test_a_crash_is_seen_at_once_though_a_grandchild_holds_the_pipe(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphans"
    manager = _forky(pid_file)
    try:
        client = manager.client("forky")
        client.ping()
        started = time.monotonic()
        with pytest.raises(PluginCrashed, match=r"forky.*crashed during list_instances.*exit code 17"):
            client.list_instances()
        assert time.monotonic() - started < 1.0  # not the 30 s timeout
        assert pid_file.read_text().strip(), "forky left no grandchild: the test proves nothing"
        # it held the channel and the sentinel pipe; it ends with its worker, not with the host
        _wait(lambda: not _orphans(pid_file), "the grandchild outlived its crashed worker", within=2)
    finally:
        manager.shutdown()


def test_the_cli_reports_such_a_crash_in_one_line_and_leaves_nothing(isolated_home: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "orphans"
    result = run_cli("instance", "list", "-p", "forky", "-o", f"pid_file={pid_file}", "--timeout", "30")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "crashed" in result.stderr, result.stderr
    assert result.seconds < 10  # far from the 30 s timeout
    assert pid_file.read_text().strip()
    _wait(lambda: not _orphans(pid_file), "the plugin's grandchild outlived the CLI")
    assert wait_gone(isolated_home, timeout=3) == []


def test_shutting_a_worker_down_ends_what_its_plugin_forked(tmp_path: Path) -> None:
    pid_file = tmp_path / "orphans"
    manager = _forky(pid_file)
    try:
        assert manager.client("forky").get_instance_info("mem-1").id == "mem-1"
        _wait(lambda: bool(_orphans(pid_file)), "forky left no grandchild: the test proves nothing")
        started = time.monotonic()
        manager.unload("forky")
        assert time.monotonic() - started < 2.0
        assert _orphans(pid_file) == []
    finally:
        manager.shutdown()


def _agent_pid(agent: Agent, provider: str) -> int:
    with agent.client("viewer") as client:
        pid = client.get(f"/api/plugins/{provider}").json()["pid"]
    assert isinstance(pid, int)
    return pid


def test_a_plugin_that_kills_its_parent_ends_no_other_worker(tmp_path: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=10) as agent, agent.client() as client:
        for name in ("memory", "parentkiller"):
            assert client.post("/api/plugins/load", json={"plugin": name}).status_code == 200
        memory_pid = _agent_pid(agent, "memory")
        killed = client.get("/api/providers/parentkiller/instances")
        assert killed.status_code == 503, killed.text
        assert killed.json()["error"]["code"] == "plugin_crashed"
        time.sleep(0.5)  # give a wrongly shared parent's death time to spread
        assert client.get("/api/providers/memory/instances/mem-0").status_code == 200
        assert _agent_pid(agent, "memory") == memory_pid
        # the killer's next call gets a new worker of its own
        assert client.get("/api/providers/parentkiller/instances/mem-0").status_code == 200


def test_a_slow_listing_fails_alone_beside_fast_calls(tmp_path: Path, isolated_home: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[providers.slowpoke]\nsleep = "4"\n')
    with running_agent(isolated_home, config, timeout=1.5) as agent:
        with agent.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "slowpoke"}).status_code == 200
        pid = _agent_pid(agent, "slowpoke")
        results: list[int] = []
        stop = threading.Event()

        def hammer(n: int) -> None:
            with agent.client("viewer") as own:
                while not stop.is_set():
                    results.append(own.get(f"/api/providers/slowpoke/instances/mem-{n % 3}").status_code)

        threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.2)
            before = len(results)
            with agent.client("viewer") as client:
                slow = client.get("/api/providers/slowpoke/instances")
            during = len(results) - before
            time.sleep(3)  # past the health ping's timeout and the listing's late answer
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert slow.status_code == 503
        assert slow.json()["error"]["code"] == "plugin_timeout"
        assert during > 0, "no fast call ran beside the slow one: the test proves nothing"
        assert results and set(results) == {200}
        assert _agent_pid(agent, "slowpoke") == pid
        with agent.client("viewer") as client:
            assert client.get("/api/plugins/slowpoke").json()["restarts"] == 0
        assert "restarting" not in agent.stderr


def test_a_frozen_worker_is_restarted_through_the_agent_and_the_cause_logged(
    tmp_path: Path, isolated_home: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[providers.hangy]\nfreeze = "1"\n')
    with running_agent(isolated_home, config, timeout=2) as agent:  # the restart must start within it
        with agent.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "hangy"}).status_code == 200
            pid = _agent_pid(agent, "hangy")
            assert client.get("/api/providers/hangy/instances").status_code == 503
            deadline = time.monotonic() + 10
            while "did not answer its health ping" not in agent.stderr:
                assert time.monotonic() < deadline, agent.stderr
                time.sleep(0.05)
            answer = client.get("/api/providers/hangy/instances/mem-0")
            assert answer.status_code == 200, answer.text
            assert _agent_pid(agent, "hangy") != pid
        restarts = [line for line in agent.stderr.splitlines() if "restarting its worker" in line]
        assert len(restarts) == 1 and "health ping within 2s" in restarts[0], agent.stderr


def test_the_fork_servers_death_ends_no_worker(tmp_path: Path, isolated_home: Path) -> None:
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=10) as agent, agent.client() as client:
        assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        pid = _agent_pid(agent, "memory")
        guard = psutil.Process(pid).parent()
        assert guard is not None and guard.name() == "sbg-memory"
        server = guard.parent()
        assert server is not None and server.pid != agent.process.pid, "no fork server: the test proves nothing"
        server.kill()
        _wait(lambda: not server.is_running() or server.status() == psutil.STATUS_ZOMBIE, "the server lives")
        time.sleep(0.5)  # past the workers' parent watch
        assert client.get("/api/providers/memory/instances/mem-0").status_code == 200
        assert _agent_pid(agent, "memory") == pid
        assert client.post("/api/plugins/load", json={"plugin": "noisy"}).status_code == 200  # a new fork server


def test_a_temp_directory_too_long_for_the_forkserver_socket_is_one_line(tmp_path: Path) -> None:
    long_tmp = tmp_path / ("t" * 110)
    long_tmp.mkdir()
    env = {"TMPDIR": str(long_tmp), "SNOOZEBOT_START_METHOD": "forkserver"}
    result = run_cli("schedule", "run", "-p", "memory", env=env)
    assert result.returncode == 3, result
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "error:" in line]
    assert "cannot start the memory worker: AF_UNIX path too long" in line and "set TMPDIR shorter" in line
