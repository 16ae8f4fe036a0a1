"""The plugin host with real worker processes and the fixture plugins."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.errors import (
    PluginCrashed,
    PluginIncompatible,
    PluginLoadError,
    PluginNotFound,
    PluginTimeout,
)
from snoozebot.host.manager import PluginManager
from snoozebot.host.supervisor import RestartPolicy


@pytest.fixture
def manager(isolated_home: Path) -> Iterator[PluginManager]:
    mgr = PluginManager(config=Config(), state_directory=isolated_home, timeout=5.0)
    try:
        yield mgr
    finally:
        mgr.shutdown()


def _gone(pid: int, *, within: float = 2.0) -> bool:
    """True once ``pid`` no longer exists (reaped, not a zombie), polling up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        if not psutil.pid_exists(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _pid_of(mgr: PluginManager, name: str) -> int:
    deadline = time.monotonic() + 10
    while (pid := mgr.supervisor(name).pid) is None:
        assert time.monotonic() < deadline, f"worker {name} never started"
        time.sleep(0.02)
    return pid


def test_healthy_provider_serves_calls_and_is_remembered_as_loaded(manager: PluginManager) -> None:
    status = manager.load_all("memory").status
    assert status.loaded and status.plugin_version == "1.0.0" and status.api_version == "1.0"
    client = manager.client("memory")
    instances = client.list_instances({"team": "ml"})
    assert [i.id for i in instances] == ["mem-1"]
    assert client.get_instance_info("mem-0").state is sdk.InstanceState.RUNNING
    [outcome] = client.stop_instances(["mem-0"])
    assert outcome.ok and outcome.instance is not None and outcome.instance.state is sdk.InstanceState.STOPPED
    assert manager.loaded_names() == ["memory"]
    manager.unload("memory")
    assert manager.loaded_names() == []


def test_provider_errors_cross_the_channel_typed(manager: PluginManager) -> None:
    client = manager.client("memory")
    with pytest.raises(sdk.InstanceNotFound, match="nope") as info:
        client.get_instance_info("nope")
    assert info.value.cloud_code == "NotFound"
    outcomes = client.stop_instances(["mem-0", "nope"])
    assert [o.ok for o in outcomes] == [True, False]
    failure = outcomes[1].failure
    assert failure is not None and (failure.code, failure.cloud_code) == ("instance_not_found", "NotFound")


def test_a_slow_call_does_not_block_a_fast_one(manager: PluginManager) -> None:
    client = manager.client("hangy")
    worker = manager.supervisor("hangy").worker()
    slow = worker.submit("list_instances", {"filters": {}})
    started = time.monotonic()
    assert client.get_instance_info("mem-0").id == "mem-0"
    assert time.monotonic() - started < 1.0
    assert not slow.done()


def test_crash_mid_call_fails_at_once_and_the_next_call_restarts(manager: PluginManager) -> None:
    client = manager.client("crashy")
    started = time.monotonic()
    with pytest.raises(PluginCrashed, match="crashy.*crashed during list_instances.*exit code 17"):
        client.list_instances()
    assert time.monotonic() - started < 2.0  # EOF/sentinel, not the 5 s timeout
    assert client.get_instance_info("mem-0").id == "mem-0"
    sup = manager.supervisor("crashy")
    assert (sup.restarts, sup.crashes) == (1, 1)


def test_a_hang_fails_that_call_alone_and_the_worker_stays(manager: PluginManager) -> None:
    manager.timeout = 1.0
    client = manager.client("hangy")
    client.timeout = 1.0
    pid = manager.supervisor("hangy").worker().pid
    assert pid is not None
    started = time.monotonic()
    with pytest.raises(PluginTimeout, match="did not answer list_instances within 1s"):
        client.list_instances()
    assert time.monotonic() - started < 2.0
    time.sleep(1.5)  # the health ping it prompted has been answered
    assert client.get_instance_info("mem-0").id == "mem-0"
    sup = manager.supervisor("hangy")
    assert (sup.pid, sup.restarts, sup.crashes) == (pid, 0, 0)


def test_a_worker_that_fails_its_health_ping_is_restarted_and_the_cause_logged(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("snoozebot").propagate = True
    caplog.set_level(logging.WARNING, logger="snoozebot.host")
    mgr = PluginManager(
        config=Config(), state_directory=isolated_home, timeout=1.0, option_overrides={"freeze": "1"}
    )
    try:
        client = mgr.client("hangy")
        assert client.ping() is None
        pid = _pid_of(mgr, "hangy")
        with pytest.raises(PluginTimeout, match="did not answer list_instances within 1s"):
            client.list_instances()  # stops the whole worker: its ping goes unanswered too
        deadline = time.monotonic() + 5
        while mgr.supervisor("hangy").status == "running":
            assert time.monotonic() < deadline, "the frozen worker was never stopped"
            time.sleep(0.02)
        assert _gone(pid)
        assert client.get_instance_info("mem-0").id == "mem-0"
        sup = mgr.supervisor("hangy")
        assert sup.pid != pid and sup.restarts == 1
    finally:
        mgr.shutdown()
    messages = [r.getMessage() for r in caplog.records if r.name == "snoozebot.host"]
    assert any(f"stopping its worker (pid {pid})" in m and "health ping within 1s" in m for m in messages)
    [restart] = [m for m in messages if "restarting its worker" in m]
    assert f"pid {pid}" in restart and "did not answer its health ping within 1s" in restart


def test_restart_limit_gives_up_with_backoff(isolated_home: Path) -> None:
    policy = RestartPolicy(restart_limit=2, backoff_base=0.05)
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.0, 0.05, 0.1]
    mgr = PluginManager(config=Config(), state_directory=isolated_home, timeout=5.0, policy=policy)
    try:
        client = mgr.client("crashy")
        for _ in range(3):
            with pytest.raises(PluginCrashed):
                client.list_instances()
        with pytest.raises(PluginCrashed, match="giving up"):
            client.list_instances()
    finally:
        mgr.shutdown()


def test_plugin_output_becomes_prefixed_log_records(manager: PluginManager, caplog: pytest.LogCaptureFixture) -> None:
    logging.getLogger("snoozebot").propagate = True
    caplog.set_level(logging.INFO, logger="snoozebot.plugin.noisy")
    assert len(manager.client("noisy").list_instances()) == 3
    time.sleep(0.2)  # log lines travel beside the response
    messages = [r.getMessage() for r in caplog.records if r.name == "snoozebot.plugin.noisy"]
    assert any(m.startswith("[noisy] [stdout] {\"noise\"") for m in messages), messages
    assert any("[noisy] [stderr] noisy: stderr in list_instances" in m for m in messages), messages
    assert any("a log record from list_instances" in m for m in messages), messages


def test_import_failure_names_the_missing_module(manager: PluginManager) -> None:
    with pytest.raises(PluginLoadError, match="snoozebot_fixture_missing_dependency"):
        manager.load_all("broken")
    assert manager.loaded_names() == []


def test_incompatible_api_version_names_both_versions(manager: PluginManager) -> None:
    with pytest.raises(PluginIncompatible, match=r"needs plugin API 2\.0.*provides API 1\.1"):
        manager.load_all("future")


def test_unknown_provider_is_not_found(manager: PluginManager) -> None:
    with pytest.raises(PluginNotFound, match="no provider named 'nope'"):
        manager.load_all("nope")
    with pytest.raises(PluginNotFound):
        manager.client("nope").list_instances()


def test_shutdown_reaps_every_worker(isolated_home: Path) -> None:
    mgr = PluginManager(config=Config(), state_directory=isolated_home, timeout=5.0)
    pids = []
    with ThreadPoolExecutor(2) as pool:
        for name in ("memory", "noisy"):
            mgr.client(name).ping()
            pids.append(_pid_of(mgr, name))
        # a call in flight while shutting down must not keep the worker alive
        hung = pool.submit(mgr.client("hangy").list_instances)
        pids.append(_pid_of(mgr, "hangy"))
        time.sleep(0.2)  # the call is in flight
        mgr.shutdown()
        with pytest.raises(Exception):
            hung.result(timeout=5)
    assert all(_gone(pid) for pid in pids)
    me = psutil.Process()
    assert [c for c in me.children() if c.status() != psutil.STATUS_ZOMBIE and c.pid in pids] == []


def test_workers_exit_when_the_host_is_killed(isolated_home: Path, tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from snoozebot.config import Config
        from snoozebot.host.manager import PluginManager
        if __name__ == "__main__":  # forkserver workers import the main module
            mgr = PluginManager(config=Config(), state_directory=Path(sys.argv[1]), timeout=5)
            for name in ("memory", "noisy"):
                mgr.client(name).ping()
                print(mgr.supervisor(name).pid, flush=True)
            time.sleep(60)
        """
    ))
    host = subprocess.Popen([sys.executable, str(script), str(isolated_home)], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        pids = [int(host.stdout.readline()) for _ in range(2)]
        os.kill(host.pid, signal.SIGKILL)
        host.wait(timeout=5)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not all(_gone(p) for p in pids):
            time.sleep(0.05)
        assert all(_gone(p) for p in pids), "workers outlived their host by more than 2 s"
    finally:
        host.kill()
        host.wait(timeout=5)


def test_workers_ignore_sigint(manager: PluginManager) -> None:
    client = manager.client("memory")
    client.ping()
    pid = manager.supervisor("memory").pid
    assert pid is not None
    os.kill(pid, signal.SIGINT)
    time.sleep(0.2)
    assert len(client.list_instances()) == 3


def test_the_worker_finds_its_entry_point_through_stevedore() -> None:
    from snoozebot.host.process import WorkerProcess

    worker = WorkerProcess.launch("memory", {}, start_method="fork")
    try:
        assert worker.wait_ready(timeout=10).plugin_version == "1.0.0"
    finally:
        worker.shutdown()
    unknown = WorkerProcess.launch("nosuch", {}, start_method="fork")  # stevedore's NoMatches, in the worker
    with pytest.raises(PluginNotFound, match="no provider named 'nosuch' is installed"):
        unknown.wait_ready(timeout=10)
