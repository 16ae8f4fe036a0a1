"""Plugin host behaviour through the real `snoozebot` command, as a user meets it."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from conftest import SNOOZEBOT, leftover_workers, run_cli


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_help_and_list_work_on_a_fresh_home() -> None:
    assert run_cli("--help").returncode == 0
    listed = run_cli("plugins", "list")
    assert listed.returncode == 0
    assert {"memory", "crashy", "broken", "future"} <= {line.split()[0] for line in listed.stdout.splitlines()[1:]}


def test_every_plugins_command_has_help_with_an_example() -> None:
    for command in ("list", "discover", "load", "unload", "info"):
        result = run_cli("plugins", command, "--help")
        assert result.returncode == 0
        example = result.stdout[result.stdout.index("Example:"):]
        assert f"snoozebot plugins {command}" in example, command


def test_load_unload_persist_across_commands() -> None:
    assert run_cli("plugins", "load", "memory").returncode == 0
    [memory] = [p for p in run_cli("plugins", "list", "--json").json() if p["name"] == "memory"]
    assert memory["loaded"] is True and memory["error"] is None
    assert run_cli("plugins", "unload", "memory").returncode == 0
    [memory] = [p for p in run_cli("plugins", "list", "--json").json() if p["name"] == "memory"]
    assert memory["loaded"] is False


def test_info_reports_versions_from_the_worker() -> None:
    info = run_cli("plugins", "info", "future", "--json")
    assert info.returncode == 0
    doc = info.json()
    assert doc["distribution"] == "snoozebot-fixtures"
    assert "needs plugin API 2.0" in doc["last_error"]


def test_crash_mid_call_exits_3_fast_and_the_next_call_works(isolated_home: Path) -> None:
    crashed = run_cli("instance", "list", "-p", "crashy")
    assert crashed.returncode == 3
    assert crashed.seconds < 2.0
    line = _one_line(crashed.stderr)
    assert "crashy" in line and "crashed" in line
    again = run_cli("instance", "info", "mem-0", "-p", "crashy", "--json")
    assert again.returncode == 0, again.stderr
    assert again.json()["id"] == "mem-0"
    assert leftover_workers(isolated_home) == []


def test_hang_times_out_within_timeout_plus_one_second(isolated_home: Path) -> None:
    hung = run_cli("instance", "list", "-p", "hangy", "--timeout", "1")
    assert hung.returncode == 3
    assert hung.seconds < 2.0 + 0.5  # timeout + 1 s, plus interpreter start-up slack
    assert "did not answer list_instances within 1s" in _one_line(hung.stderr)
    assert leftover_workers(isolated_home) == []


def test_timeout_from_the_environment() -> None:
    hung = run_cli("instance", "list", "-p", "hangy", env={"SNOOZEBOT_TIMEOUT": "1"})
    assert hung.returncode == 3 and "within 1s" in hung.stderr
    bad = run_cli("instance", "list", "-p", "memory", env={"SNOOZEBOT_TIMEOUT": "soon"})
    assert bad.returncode == 2 and "SNOOZEBOT_TIMEOUT" in _one_line(bad.stderr)


def test_failed_import_and_incompatible_api_exit_3_with_one_line() -> None:
    broken = run_cli("plugins", "load", "broken")
    assert broken.returncode == 3
    assert "snoozebot_fixture_missing_dependency" in _one_line(broken.stderr)
    future = run_cli("plugins", "load", "future")
    assert future.returncode == 3
    line = _one_line(future.stderr)
    assert "2.0" in line and "1.1" in line
    listed = run_cli("plugins", "list", "--json")
    assert listed.returncode == 0
    assert {"memory", "noisy", "crashy", "hangy"} <= {p["name"] for p in listed.json()}


def test_unknown_provider_exits_3() -> None:
    result = run_cli("instance", "list", "-p", "nope")
    assert result.returncode == 3
    assert "nope" in _one_line(result.stderr)


def test_plugin_stdout_noise_never_breaks_json() -> None:
    result = run_cli("instance", "list", "-p", "noisy", "--json")
    assert result.returncode == 0, result.stderr
    assert [i["id"] for i in result.json()] == ["mem-0", "mem-1", "mem-2"]
    assert "noise" not in result.stdout
    assert "[noisy] [stderr] noisy: stderr in list_instances" in result.stderr


def test_bad_usage_exits_2() -> None:
    assert run_cli("plugins", "load").returncode == 2
    assert run_cli("instance", "list", "-p", "memory", "-o", "novalue").returncode == 2
    missing = run_cli("plugins", "list", "--config", "/nonexistent/snoozebot.toml")
    assert missing.returncode == 2 and "config file not found" in _one_line(missing.stderr)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([SNOOZEBOT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_worker(host: subprocess.Popen[str], name: str) -> psutil.Process:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for child in psutil.Process(host.pid).children(recursive=True):
            try:
                if child.name() == f"sb-{name}":
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    raise AssertionError(f"no worker sb-{name} appeared")


def test_ctrl_c_during_a_long_call_exits_130_and_leaves_no_worker(isolated_home: Path) -> None:
    host = _start("instance", "list", "-p", "hangy", "--timeout", "30")
    try:
        worker = _wait_for_worker(host, "hangy")
        time.sleep(1.5)  # the call is in flight (start-up takes well under that)
        os.kill(host.pid, signal.SIGINT)
        _, stderr = host.communicate(timeout=10)
        assert host.returncode == 130
        assert "Traceback" not in stderr and "interrupted" in stderr
        assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
        assert leftover_workers(isolated_home) == []
    finally:
        host.kill()
        host.wait(timeout=5)


def test_kill_9_of_the_host_takes_its_workers_within_2_seconds(isolated_home: Path) -> None:
    host = _start("instance", "list", "-p", "hangy", "--timeout", "30")
    try:
        worker = _wait_for_worker(host, "hangy")
        os.kill(host.pid, signal.SIGKILL)
        host.wait(timeout=5)
        try:
            worker.wait(timeout=2.0)
        except psutil.TimeoutExpired:
            raise AssertionError("worker outlived its killed host by more than 2 s") from None
        assert leftover_workers(isolated_home) == []
    finally:
        host.kill()
        host.wait(timeout=5)


def test_os_exit_still_runs_multiprocessings_cleanup(tmp_path: Path) -> None:
    """main() ends with os._exit, then runs multiprocessing.util._run_finalizers (a private API) itself.

    The forkserver keeps its socket in a pymp-* temporary directory that only those finalizers remove;
    this fails if the private function goes away or stops doing that.
    """
    import multiprocessing.util

    assert callable(multiprocessing.util._run_finalizers)
    tmp = Path(tempfile.mkdtemp(prefix="sb-", dir="/tmp"))  # short: the forkserver's socket path must fit AF_UNIX
    env = {"TMPDIR": str(tmp), "SNOOZEBOT_START_METHOD": "forkserver"}
    result = run_cli("plugins", "load", "memory", env=env)  # no prestart: the worker comes from the forkserver
    assert result.returncode == 0, result.stderr
    assert list(tmp.iterdir()) == []
    tmp.rmdir()
