"""`action` and `failure` notifications from `schedule run`, delivered for real through Apprise to a
webhook (`json://`) and an SMTP server (`mailto://`) on 127.0.0.1; receivers that hang or refuse
never change the exit code and never hold a run past the bound.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli
from test_notify_harness import Mailbox, SilentSmtp, Webhook

SCHEDULES = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]
"""
MON_1905 = "2027-01-04T19:05:00+01:00"


def configure(tmp_path: Path, urls: list[str], **notify: object) -> Path:
    """Three running instances on office-hours (mem-2 names an unknown schedule) and a [notify] table."""
    state_file = tmp_path / "instances.json"
    tags = {"snoozebot-schedule": "office-hours"}
    fleet = {f"mem-{i}": {"state": "running", "name": "m", "tags": tags} for i in range(2)}
    fleet["mem-2"] = {"state": "running", "name": "m", "tags": {"snoozebot-schedule": "nope"}}
    state_file.write_text(json.dumps(fleet))
    table = {"urls": urls, **notify}
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in table.items())
    (tmp_path / "config.toml").write_text(SCHEDULES.format(state_file=state_file) + f"\n[notify]\n{lines}\n")
    return state_file


def run(*args: str) -> object:
    return run_cli("schedule", "run", "-p", "memory", "--json", *args)


def test_action_and_failure_digests_reach_a_webhook_and_a_mailbox(tmp_path: Path) -> None:
    with Webhook() as hook, Mailbox() as mail:
        configure(tmp_path, [hook.url, mail.url()], events=["action", "failure"])
        res = run("--now", MON_1905)
        assert res.returncode == 1, res.stderr  # mem-2's unknown schedule fails it alone
        assert [r["action"] for r in res.json()] == ["stop", "stop", "none"]
        posts = hook.wait(2)
        assert [p["title"] for p in posts] == ["snoozebot: stopped 2 instances", "snoozebot: 1 failure"]
        assert posts[0]["message"] == (
            "Stopped:\n"
            "  mem-0 · provider memory · target - · scope -\n"
            "  mem-1 · provider memory · target - · scope -"
        )
        assert posts[1]["message"].startswith("mem-2 · provider memory · target - · scope -: none failed: unknown")
        assert "unknown schedule 'nope'" in posts[1]["message"]
        assert sorted(m["Subject"] for m in mail.messages) == ["snoozebot: 1 failure", "snoozebot: stopped 2 instances"]
        assert all(m["To"] == "ops@example.com" for m in mail.messages)
        assert "mem-0 · provider memory" in "".join(mail.text(m) for m in mail.messages)
        assert "notification" not in res.stderr
        # Ten minutes later nothing was stopped: no action digest; the failure is reported again.
        res = run("--now", "2027-01-04T19:15:00+01:00")
        assert [p["title"] for p in hook.wait(3)][2:] == ["snoozebot: 1 failure"]


def test_only_the_configured_events_are_sent_and_dry_runs_send_nothing(tmp_path: Path) -> None:
    with Webhook() as hook:
        configure(tmp_path, [hook.url], events=["action"])
        assert run("--now", MON_1905, "--dry-run").returncode == 1
        res = run("--now", MON_1905)
        assert res.returncode == 1
        assert [p["title"] for p in hook.wait(1)] == ["snoozebot: stopped 2 instances"]
        assert len(hook.wait(2, timeout=0.5)) == 1


def test_hanging_and_silent_receivers_never_hold_a_run_past_the_bound(tmp_path: Path) -> None:
    configure(tmp_path, [])
    baseline = run("--now", MON_1905)
    assert baseline.returncode == 1
    run_cli("schedule", "reset", "-p", "memory")
    with Webhook(hang=True) as hung, SilentSmtp() as silent, Webhook() as good:
        configure(tmp_path, [hung.url, silent.url, good.url])
        res = run("--now", MON_1905)
    assert res.returncode == 1, res.stderr  # the exit code is the run's, not the deliveries'
    assert res.seconds < baseline.seconds + 10.5, (res.seconds, baseline.seconds)
    assert [p["title"] for p in good.posts] == ["snoozebot: stopped 2 instances", "snoozebot: 1 failure"]
    lines = [line for line in res.stderr.splitlines() if "notification" in line]
    assert len(lines) == 2, res.stderr
    assert lines[1] == "warning: notification to urls[1] (mailto://) failed: no answer within 9.5s (not waited for)"
    assert lines[0].startswith("warning: notification to urls[0] (json://) failed: ")


def test_a_refused_delivery_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    from conftest import free_port

    configure(tmp_path, [f"json://127.0.0.1:{free_port()}/nobody", "bogus://x"])
    res = run("--now", MON_1905)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if "notification" in line]
    assert lines[0].startswith("warning: notification to urls[0] (json://) failed: the receiver refused it")
    assert lines[1] == "warning: notification to urls[1] (bogus://) failed: not a URL Apprise understands"
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        ({"events": ["warning", "lunch"]}, "[notify].events: unknown event 'lunch'"),
        ({"warn_before": "soon"}, "[notify].warn_before: bad nap time 'soon'"),
        ({"base_url": "ftp://x"}, "[notify].base_url: expected an http:// or https:// URL"),
        ({"colour": "red"}, "[notify]: unknown key 'colour'"),
    ],
)
def test_a_bad_notify_table_is_exit_2_before_anything_runs(tmp_path: Path, notify: dict[str, object], message: str) -> None:
    state_file = configure(tmp_path, ["json://127.0.0.1:1/x"], **notify)
    res = run("--now", MON_1905)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert {r["state"] for r in json.loads(state_file.read_text()).values()} == {"running"}


def test_without_the_notify_extra_a_notify_table_is_exit_2_naming_it(tmp_path: Path) -> None:
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['apprise'] = None  # as if not installed\n")
    configure(tmp_path, ["json://127.0.0.1:1/x"])
    res = run_cli("schedule", "run", "-p", "memory", "--now", MON_1905, env={"PYTHONPATH": str(hide)})
    assert res.returncode == 2, res.stderr
    assert "notifications need the notify extra (Apprise): pip install '.[notify]'" in res.stderr
