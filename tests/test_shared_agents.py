"""Several agents on one PostgreSQL database (tests/pg.py): shared tokens, one leader, takeover.

Each agent has its own state directory (its own "machine"); the database and
the memory provider's state file (the "cloud") are shared.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import time
from pathlib import Path

import httpx
from conftest import run_cli
from test_agent_harness import Agent, running_agent

CONFIG = """
[providers.memory]
state_file = "{cloud}"
call_log = "{calls}"

[schedules.now]
timezone = "UTC"
periods = [{{ days = "daily", stop = "{stop}" }}]
"""


def two_homes(tmp_path: Path) -> tuple[Path, Path]:
    homes = tmp_path / "a", tmp_path / "b"
    for home in homes:
        home.mkdir()
    return homes


def fleet_config(tmp_path: Path) -> Path:
    """The memory cloud, tagged with a schedule whose stop passed five minutes ago."""
    stop = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).strftime("%H:%M")
    config = tmp_path / "fleet.toml"
    config.write_text(CONFIG.format(cloud=tmp_path / "cloud.json", calls=tmp_path / "calls.jsonl", stop=stop))
    cloud = {f"mem-{i}": {"state": "running", "name": f"m{i}", "tags": {"snoozebot-schedule": "now"}} for i in range(3)}
    (tmp_path / "cloud.json").write_text(json.dumps(cloud))
    return config


def leader(agent: Agent, token: str) -> dict[str, object]:
    answer = httpx.get(f"{agent.url}/api/leader", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_until_leader(agent: Agent, token: str, timeout: float) -> float:
    """Seconds until ``agent`` says it leads; fails after ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        doc = leader(agent, token)
        if doc["self"]:
            assert doc["leader"] == {"host": socket.gethostname(), "pid": agent.process.pid, "since": doc["leader"]["since"]}  # type: ignore[index]
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{agent.url} did not take the lead within {timeout}s: {leader(agent, token)}")


def test_a_token_made_through_one_agent_works_on_the_other_and_revocation_is_seen_within_1s(
    pg_url: str, tmp_path: Path
) -> None:
    home_a, home_b = two_homes(tmp_path)
    config = tmp_path / "config.toml"
    with running_agent(home_a, config) as a, running_agent(home_b, config) as b:
        admin = a.tokens["admin"]
        assert b.tokens == {}  # the tokens exist already: they are the database's
        made = httpx.post(f"{a.url}/api/tokens", json={"name": "ci", "role": "viewer"},
                          headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert made.status_code == 201, made.text
        viewer = {"Authorization": f"Bearer {made.json()['token']}"}
        assert httpx.get(f"{b.url}/api/plugins", headers=viewer, timeout=10).status_code == 200
        gone = httpx.delete(f"{b.url}/api/tokens/ci", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert gone.status_code == 200
        revoked_at = time.monotonic()
        while httpx.get(f"{a.url}/api/plugins", headers=viewer, timeout=10).status_code != 401:
            assert time.monotonic() - revoked_at < 1.0, "agent a still accepts the revoked token after 1 s"
            time.sleep(0.02)


def test_one_leader_runs_the_schedules_and_another_takes_over_after_kill_9(pg_url: str, tmp_path: Path) -> None:
    home_a, home_b = two_homes(tmp_path)
    config = fleet_config(tmp_path)
    for home in (home_a, home_b):
        loaded = run_cli("plugins", "load", "memory", env={"SNOOZEBOT_HOME": str(home), "SNOOZEBOT_CONFIG": str(config)})
        assert loaded.returncode == 0, loaded.stderr
    every = 2.0
    args = ("--schedule-every", "2s")
    with running_agent(home_a, config, args=args) as a:
        token = a.tokens["viewer"]
        wait_until_leader(a, token, timeout=10)
        with running_agent(home_b, config, args=args) as b:
            time.sleep(every + 0.5)  # b has ticked at least once: it must not lead
            doc = leader(b, token)
            assert doc["self"] is False and doc["leader"]["pid"] == a.process.pid  # type: ignore[index]
            metrics = httpx.get(f"{b.url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10).text
            assert "snoozebot_leader 0.0" in metrics
            # the leader ran the schedule: each instance stopped once, by the agent
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len((tmp_path / "calls.jsonl").read_text().splitlines() if (tmp_path / "calls.jsonl").exists() else []) < 3:
                time.sleep(0.1)
            assert a.stop(signal.SIGKILL) == -signal.SIGKILL
            took = wait_until_leader(b, token, timeout=every + 2.0)
            assert took <= every + 1.0, f"the takeover took {took:.1f}s, more than one interval ({every}s)"
            time.sleep(every + 0.5)  # b, now the leader, runs the schedule again: nothing is left to do
            rows = run_cli("history", "--json", env={"SNOOZEBOT_HOME": str(home_b)}).json()
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert sorted(c["id"] for c in calls) == ["mem-0", "mem-1", "mem-2"]  # never twice
    assert {(r["actor"], r["action"], r["result"], r["host"]) for r in rows} == {
        ("agent:schedule", "stop", "ok", socket.gethostname())
    }


def test_without_a_database_the_only_agent_leads(tmp_path: Path, isolated_home: Path) -> None:
    config = fleet_config(tmp_path)
    env = {"SNOOZEBOT_CONFIG": str(config)}
    assert run_cli("plugins", "load", "memory", env=env).returncode == 0
    with running_agent(isolated_home, config, args=("--schedule-every", "1s")) as agent:
        wait_until_leader(agent, agent.tokens["viewer"], timeout=10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(run_cli("history", "--json", env=env).json()) < 3:
            time.sleep(0.2)
    rows = run_cli("history", "--json", env=env).json()
    assert sorted((r["instance"], r["actor"]) for r in rows) == [(f"mem-{i}", "agent:schedule") for i in range(3)]


def test_schedule_every_is_checked_before_listening(tmp_path: Path) -> None:
    for bad in ("0.5s", "soon"):
        result = run_cli("agent", "serve", "--port", "0", "--schedule-every", bad, timeout=30)
        assert result.returncode == 2 and "--schedule-every" in result.stderr, result
        assert "Traceback" not in result.stderr


def _hidden(html: str, name: str) -> str:
    import re

    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_a_ui_session_made_on_one_agent_works_on_the_other_and_ends_everywhere(
    pg_url: str, tmp_path: Path
) -> None:
    import psycopg

    home_a, home_b = two_homes(tmp_path)
    config = tmp_path / "config.toml"
    with running_agent(home_a, config) as a, running_agent(home_b, config) as b:
        token = a.tokens["viewer"]
        with httpx.Client(base_url=a.url, timeout=20) as browser:
            form = browser.get("/ui/login")
            signed = browser.post("/ui/login", data={"nonce": _hidden(form.text, "nonce"), "token": token})
            assert signed.status_code == 303 and signed.headers["location"] == "/ui"
            cookie = browser.cookies["snoozebot_session"]
        with psycopg.connect(pg_url) as conn:
            rows = conn.execute("SELECT id, token, csrf FROM ui_sessions").fetchall()
        assert len(rows) == 1 and cookie not in str(rows) and token not in str(rows)  # nothing usable stored
        with httpx.Client(base_url=b.url, timeout=20, cookies={"snoozebot_session": cookie}) as other:
            page = other.get("/ui/history")
            assert page.status_code == 200, page.text  # signed in on b too
            out = other.post("/ui/logout", data={"csrf": _hidden(page.text, "csrf")})
            assert out.status_code == 303 and "signed-out" in out.headers["location"]
        with httpx.Client(base_url=a.url, timeout=20, cookies={"snoozebot_session": cookie}) as back:
            gone = back.get("/ui/history")
            assert gone.status_code == 303 and gone.headers["location"].startswith("/ui/login")


def test_the_agent_serves_again_at_once_when_its_database_comes_back(
    tmp_path: Path, isolated_home: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from pg import pg_cluster

    with pg_cluster() as server:
        monkeypatch.setenv("SNOOZEBOT_DATABASE_URL", server.new_database())
        with running_agent(isolated_home, tmp_path / "config.toml") as agent, agent.client("viewer") as client:
            assert client.get("/api/plugins").status_code == 200
            server.stop()
            server.start()  # a restart between two requests: the pooled connection is dead
            time.sleep(1.2)  # it has idled, so it is checked before use
            assert [client.get("/api/plugins").status_code for _ in range(5)] == [200] * 5
            server.stop()
            time.sleep(0.6)  # past the reuse of the token's last check (CHECK_SECONDS)
            down = client.get("/api/plugins")
            assert down.status_code == 503 and f"127.0.0.1:{server.port}" in down.json()["error"]["message"]
            server.start()
            assert client.get("/api/plugins").status_code == 200
        assert "Traceback" not in agent.stderr
