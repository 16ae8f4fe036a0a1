"""Warnings before a stop and their postpone links, end to end: `schedule run --now` over the memory
fixture provider sends one warning digest to a real webhook; the links are served by a real agent on
127.0.0.1 (GET shows, POST acts once); the next runs honour the moved or skipped boundary.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_cli
from test_agent_harness import running_agent
from test_notify_harness import Webhook

from snoozebot.audit import AuditLog

CONFIG = """
[providers.memory]
state_file = "{state_file}"

[schedules.office-hours]
timezone = "Europe/Berlin"
periods = [{{ days = "mon-fri", start = "08:00", stop = "19:00" }}]

[notify]
urls = ["{url}"]
warn_before = "15m"
events = ["warning"]
{base_url}
"""
LINK = re.compile(r"(?:postpone 1 hour|postpone 2 hours|skip this stop): (http://\S+/postpone/\S+)")


def configure(tmp_path: Path, url: str, base_url: str | None = None, *, stopped: tuple[str, ...] = ()) -> Path:
    state_file = tmp_path / "instances.json"
    tags = {"snoozebot-schedule": "office-hours"}
    fleet = {
        f"mem-{i}": {"state": "stopped" if f"mem-{i}" in stopped else "running", "name": "m", "tags": tags}
        for i in range(3)
    }
    state_file.write_text(json.dumps(fleet))
    extra = f'base_url = "{base_url}"' if base_url else ""
    (tmp_path / "config.toml").write_text(CONFIG.format(state_file=state_file, url=url, base_url=extra))
    return state_file


def run(now: str) -> list[str]:
    res = run_cli("schedule", "run", "-p", "memory", "--json", "--now", now)
    assert res.returncode == 0, res.stderr
    assert "notification" not in res.stderr, res.stderr
    return [row["action"] for row in res.json()]


def links(post: dict[str, Any]) -> list[str]:
    return LINK.findall(post["message"])


def audit(home: Path) -> list[tuple[str, str, str, str]]:
    """The audit log, oldest first: ``(instance, source, action, actor)``."""
    entries = AuditLog.in_directory(home).entries(limit=1000)
    return [(e.instance, e.source, e.action, e.actor) for e in reversed(entries)]


@pytest.mark.both_backends
def test_one_digest_per_run_warned_once_per_boundary_at_the_lead_time_edge(tmp_path: Path) -> None:
    with Webhook() as hook:
        configure(tmp_path, hook.url, stopped=("mem-2",))
        assert run("2027-01-04T18:44:59+01:00") == ["none"] * 3  # 19:00 is 15 min and 1 s away: too early
        assert hook.wait(1, timeout=0.5) == []
        assert run("2027-01-04T18:45:00+01:00") == ["none"] * 3  # exactly the lead time: warned
        [post] = hook.wait(1)
        assert post["title"] == "snoozebot: 2 instances will be stopped soon"
        assert post["message"] == (
            "These instances will be stopped by their schedule:\n\n"
            "mem-0 · provider memory · target - · scope - · schedule office-hours\n"
            "  stops at Mon 2027-01-04 19:00 CET\n\n"
            "mem-1 · provider memory · target - · scope - · schedule office-hours\n"
            "  stops at Mon 2027-01-04 19:00 CET\n\n"
            "(postpone links need [notify] base_url: the agent's address)"
        )
        assert run("2027-01-04T18:55:00+01:00") == ["none"] * 3  # seen again: not warned again
        assert run("2027-01-04T19:05:00+01:00") == ["stop", "stop", "none"]
        assert len(hook.wait(2, timeout=0.5)) == 1


@pytest.mark.both_backends
def test_a_snoozed_instance_is_not_warned(tmp_path: Path) -> None:
    with Webhook() as hook:
        configure(tmp_path, hook.url)
        assert run_cli("instance", "snooze", "mem-1", "-p", "memory", "--until", "2027-01-05T00:00:00Z").returncode == 0
        run("2027-01-04T18:50:00+01:00")
        [post] = hook.wait(1)
        assert "mem-0" in post["message"] and "mem-2" in post["message"] and "mem-1" not in post["message"]


@pytest.fixture
def hook(tmp_path: Path, isolated_home: Path) -> Any:
    """A webhook, and an agent serving the links, configured as [notify] url and base_url."""
    with Webhook() as receiver, running_agent(isolated_home, tmp_path / "config.toml") as agent:
        configure(tmp_path, receiver.url, agent.url)
        receiver.agent = agent  # type: ignore[attr-defined]
        yield receiver


def _warned(hook: Any, now: str = "2027-01-04T18:50:00+01:00", *, count: int = 1) -> dict[str, dict[str, str]]:
    """Run at ``now``; the links of its warning (the ``count``-th), by instance and choice."""
    run(now)
    posts = hook.wait(count)
    assert len(posts) == count
    found: dict[str, dict[str, str]] = {}
    for block in posts[-1]["message"].split("\n\n")[1:]:
        name = block.split(" · ")[0]
        found[name] = dict(zip(["+1h", "+2h", "skip"], links({"message": block}), strict=True))
    base = f"{hook.agent.url}/postpone/"
    assert all(url.startswith(base) for urls in found.values() for url in urls.values())
    return found


def _form(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page))


@pytest.mark.both_backends
def test_get_changes_nothing_post_moves_the_boundary(isolated_home: Path, hook: Any) -> None:
    found = _warned(hook)
    url = found["mem-0"]["+1h"]
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    assert "mem-0" in page.text and "Mon 2027-01-04 19:00 CET" in page.text and "Mon 2027-01-04 20:00 CET" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert httpx.get(url, timeout=10).status_code == 200  # a mail scanner following the link twice
    explained = run_cli("schedule", "explain", "mem-0", "-p", "memory", "--json").json()
    assert explained["overrides"] == []
    assert [row for row in audit(isolated_home) if row[1] == "postpone"] == []

    done = httpx.post(url, data=_form(page.text), timeout=10)
    assert done.status_code == 200, done.text
    assert "it will be stopped at Mon 2027-01-04 20:00 CET instead of Mon 2027-01-04 19:00 CET" in done.text
    assert [row for row in audit(isolated_home) if row[1] == "postpone"] == [("mem-0", "postpone", "postpone", "link")]
    shown = run_cli("schedule", "show", "office-hours", "--now", "2027-01-04T18:55:00+01:00")
    assert "stop at 2027-01-04T19:00+01:00 postponed to 2027-01-04T20:00+01:00 (by link)" in shown.stdout
    # The run at the old boundary leaves mem-0 running; the one after the new boundary stops it.
    assert run("2027-01-04T19:05:00+01:00") == ["none", "stop", "stop"]
    moved = _warned(hook, "2027-01-04T19:50:00+01:00", count=2)  # the moved stop is warned again
    assert set(moved) == {"mem-0"}
    assert "Mon 2027-01-04 20:00 CET" in hook.posts[1]["message"]
    assert run("2027-01-04T20:05:00+01:00") == ["stop", "none", "none"]

    again = httpx.post(url, data=_form(page.text), timeout=10)
    assert again.status_code == 410 and "used already" in again.text
    assert httpx.get(url, timeout=10).status_code == 410


def test_skip_removes_that_one_stop_only(hook: Any) -> None:
    found = _warned(hook)
    url = found["mem-1"]["skip"]
    page = httpx.get(url, timeout=10)
    assert "skips that one stop" in page.text
    assert httpx.post(url, data=_form(page.text), timeout=10).status_code == 200
    assert run("2027-01-04T19:05:00+01:00") == ["stop", "none", "stop"]
    assert run("2027-01-04T21:05:00+01:00") == ["none", "none", "none"]
    # The next day's stop applies as usual.
    assert run("2027-01-05T19:05:00+01:00") == ["none", "stop", "none"]


def test_postponed_twice_moves_the_same_stop_further(hook: Any) -> None:
    found = _warned(hook)
    page = httpx.get(found["mem-2"]["+2h"], timeout=10)
    assert httpx.post(found["mem-2"]["+2h"], data=_form(page.text), timeout=10).status_code == 200
    assert run("2027-01-04T19:05:00+01:00") == ["stop", "stop", "none"]
    # The moved stop (21:00) is warned about again; its +1h link moves the same stop to 22:00.
    again = _warned(hook, "2027-01-04T20:50:00+01:00", count=2)["mem-2"]["+1h"]
    page = httpx.get(again, timeout=10)
    assert "Mon 2027-01-04 21:00 CET" in page.text and "Mon 2027-01-04 22:00 CET" in page.text
    assert httpx.post(again, data=_form(page.text), timeout=10).status_code == 200
    assert run("2027-01-04T21:05:00+01:00") == ["none", "none", "none"]
    assert run("2027-01-04T22:05:00+01:00") == ["none", "none", "stop"]


def test_altered_unknown_and_formless_tokens_are_refused(hook: Any) -> None:
    url = _warned(hook)["mem-0"]["+1h"]
    base, token = url.rsplit("/", 1)
    payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    other = _warned_payload_for(payload, "mem-1")
    for bad in (f"{payload}.{flipped}", f"{other}.{signature}", "garbage", f"{payload}.", "x" * 3000):
        res = httpx.get(f"{base}/{bad}", timeout=10)
        assert res.status_code == 403, (bad, res.status_code)
        assert "not valid" in res.text
        assert httpx.post(f"{base}/{bad}", data={"token": bad}, timeout=10).status_code == 403
    # A cross-site form without the token in it changes nothing.
    assert httpx.post(url, data={}, timeout=10).status_code == 403
    assert run_cli("schedule", "explain", "mem-0", "-p", "memory", "--json").json()["overrides"] == []


def _warned_payload_for(payload: str, instance: str) -> str:
    """The same payload naming another instance (signature left as it was)."""
    import base64

    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc["i"] = instance
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_an_expired_link_is_410(hook: Any) -> None:
    # Warned for a stop on 2026-11-23, more than a day before the real clock: expired.
    url = _warned(hook, now="2026-11-23T18:50:00+01:00")["mem-0"]["skip"]
    res = httpx.get(url, timeout=10)
    assert res.status_code == 410 and "expired" in res.text
    assert httpx.post(url, data={"token": url.rsplit("/", 1)[1]}, timeout=10).status_code == 410
