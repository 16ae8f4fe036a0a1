"""`idle check --warn-before`: a warning (with postpone links) once idle for the nap time minus the
lead time, sent once; the stop follows at the nap time unless a link postponed or skipped it.
The real CLI on this machine, a fake metadata server naming a moto EC2 instance, a webhook and a
real agent on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_agent_harness import running_agent
from test_idle_cli import ALWAYS_IDLE, idle_check, machine, states  # noqa: F401 - machine is a fixture
from test_notify_harness import Webhook

LINK = re.compile(r"(postpone 1 hour|postpone 2 hours|skip this stop): (http://\S+/postpone/\S+)")


@pytest.fixture
def hook(tmp_path: Path, isolated_home: Path) -> Any:
    with Webhook() as receiver, running_agent(isolated_home, tmp_path / "config.toml") as agent:
        (tmp_path / "config.toml").write_text(f'[notify]\nurls = ["{receiver.url}"]\nbase_url = "{agent.url}"\n')
        yield receiver


def check(env: dict[str, str], naptime: str, lead: str) -> dict[str, Any]:
    res = idle_check(env, *ALWAYS_IDLE, "--naptime", naptime, "--warn-before", lead, "--json")
    assert res.returncode == 0, res.stderr
    assert "notification" not in res.stderr, res.stderr
    doc: dict[str, Any] = res.json()
    return doc


def test_a_warning_once_before_the_idle_stop_then_the_stop(machine: Any, hook: Any, isolated_home: Path) -> None:  # noqa: F811
    ids, env, _ = machine
    first = check(env, "90s", "2m")  # idle for 0 s, 90 s - 2 min ago: warned at once
    assert first["action"] == "none" and states(ids)[ids[0]] == "running"
    [post] = hook.wait(1)
    since = dt.datetime.fromisoformat(first["idle_since"])
    due = (since + dt.timedelta(seconds=90)).replace(microsecond=0).strftime("%a %Y-%m-%d %H:%M UTC")
    assert post["title"] == "snoozebot: 1 instance will be stopped soon"
    assert post["message"].startswith(
        "These instances will be stopped by the idle check:\n\n"
        f"{ids[0]} · provider aws · target - · scope - · idle for the nap time (90 s)\n"
        f"  stops at {due}\n"
    )
    assert [choice for choice, _ in LINK.findall(post["message"])] == ["postpone 1 hour", "postpone 2 hours", "skip this stop"]
    assert check(env, "90s", "2m")["action"] == "none"
    assert len(hook.wait(2, timeout=0.5)) == 1  # warned once for that stop
    # Two minutes later (what two real minutes would have left in idle.json): the stop.
    earlier = since - dt.timedelta(minutes=2)
    (isolated_home / "idle.json").write_text(json.dumps({"idle_since": earlier.isoformat()}))
    assert check(env, "90s", "2m")["action"] == "stop"
    assert states(ids)[ids[0]] == "stopped"


def _use(post: dict[str, Any], choice: str) -> None:
    url = dict(LINK.findall(post["message"]))[choice]
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
    assert httpx.post(url, data=form, timeout=10).status_code == 200


def _past(moment: str, seconds: float) -> None:
    """Wait (bounded) until ``seconds`` after ``moment``."""
    end = dt.datetime.fromisoformat(moment) + dt.timedelta(seconds=seconds)
    while dt.datetime.now(dt.UTC) < end:
        time.sleep(0.1)


def test_a_postponed_idle_stop_waits(machine: Any, hook: Any) -> None:  # noqa: F811
    ids, env, _ = machine
    first = check(env, "3s", "3s")
    _use(hook.wait(1)[0], "postpone 1 hour")
    _past(first["idle_since"], 4)
    second = check(env, "3s", "3s")
    assert (second["action"], second["idle_since"]) == ("none", first["idle_since"])
    assert states(ids)[ids[0]] == "running"


def test_a_skipped_idle_stop_starts_the_idleness_over(machine: Any, hook: Any) -> None:  # noqa: F811
    ids, env, _ = machine
    first = check(env, "8s", "8s")  # 8 s: room for the next two checks (a few seconds each) within one nap
    _use(hook.wait(1)[0], "skip this stop")
    _past(first["idle_since"], 9)
    second = check(env, "8s", "8s")
    assert second["action"] == "none" and second["idle_since"] > first["idle_since"]
    assert states(ids)[ids[0]] == "running"
    # The new idle period has its own stop, warned about afresh by the next check.
    assert len(hook.wait(2, timeout=0.5)) == 1
    assert check(env, "8s", "8s")["action"] == "none"
    assert len(hook.wait(2)) == 2
