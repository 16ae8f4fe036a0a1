"""`snoozebot demo`: the guided run against an in-process moto EC2 server, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from conftest import SNOOZEBOT, run_cli

STEPS = [
    "$ snoozebot plugins list",
    "$ snoozebot plugins load aws",
    "$ snoozebot instance list",
    "$ snoozebot instance list --filter Team=ml",
    "--dry-run",
    "-p aws --wait",
    "$ snoozebot history --limit 5",
]


def processes_under(prefix: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("SNOOZEBOT_HOME", "").startswith(str(prefix)):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.mark.slow
def test_demo_walks_through_and_cleans_up(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SNOOZEBOT_HOME",) and not k.startswith("AWS_")}
    env["TMPDIR"] = str(scratch)
    env["AWS_PROFILE"] = "must-not-be-used"  # the demo never touches a real account
    proc = subprocess.run([SNOOZEBOT, "demo"], capture_output=True, text=True, timeout=180, env=env, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    positions = [out.index(step) for step in STEPS]
    assert positions == sorted(positions)
    assert "Traceback" not in proc.stderr and "Loaded aws" in proc.stderr
    assert out.count("ml-training") >= 3 and "web-staging" in out
    after_stop = out[out.index("-p aws --wait") :]
    assert after_stop.count("stopped") >= 4  # the stop table and the second listing
    assert "State directory for this demo: " + str(scratch) in out
    assert list(scratch.glob("snoozebot-demo-*")) == []  # its temporary home is gone
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_demo_uses_the_users_home_when_set(isolated_home: Path) -> None:
    result = run_cli("demo", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"State directory for this demo: {isolated_home}" in result.stdout
    assert json.loads((isolated_home / "loaded.json").read_text())["loaded"] == ["aws"]
    history = run_cli("history", "--json").json()
    assert {(r["action"], r["dry_run"]) for r in history} == {("stop", True), ("stop", False)}


def test_demo_without_moto_says_how_to_install_it(isolated_home: Path) -> None:
    code = (
        "import sys; sys.modules['moto'] = None; "
        "import importlib.util as u; real = u.find_spec; "
        "u.find_spec = lambda name, *a: None if name == 'moto' else real(name, *a); "
        "sys.argv = ['snoozebot', 'demo']; from snoozebot.cli.main import main; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "snoozebot: error: the demo needs a local EC2 emulator (moto not installed); "
        "install it with: pip install '.[demo]' (from a checkout)"
    )
    assert proc.stdout == ""


@pytest.mark.slow
def test_demo_interrupted_exits_130_and_cleans_up(tmp_path: Path) -> None:
    import signal
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SNOOZEBOT_HOME" and not k.startswith("AWS_")}
    env["TMPDIR"] = str(scratch)
    proc = subprocess.Popen([SNOOZEBOT, "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if "$ snoozebot instance list" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert list(scratch.glob("snoozebot-demo-*")) == []
    deadline = time.monotonic() + 5
    while processes_under(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(tmp_path) == []
