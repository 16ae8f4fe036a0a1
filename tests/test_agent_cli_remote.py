"""The CLI as the agent's client: `--agent URL` / $SNOOZEBOT_AGENT_URL with $SNOOZEBOT_TOKEN.

The memory provider keeps its instances in a JSON file, so the agent's worker and a
local CLI's worker see the same machines: every command is run both ways and must
print the same and exit the same. The audited actions (``both_backends``) run on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Result, run_cli
from state_rows import select
from test_agent_harness import Agent, running_agent


@pytest.fixture
def agent(tmp_path: Path, isolated_home: Path) -> Iterator[Agent]:
    config = tmp_path / "config.toml"
    config.write_text(f'[providers.memory]\nstate_file = "{tmp_path / "instances.json"}"\ncount = "4"\n')
    assert run_cli("plugins", "load", "memory").returncode == 0
    with running_agent(isolated_home, config, timeout=5) as running:
        yield running


def via(agent: Agent, *args: str, who: str = "operator") -> Result:
    """Run a command through the agent (the URL from the environment, as cron would)."""
    return run_cli(*args, env={"SNOOZEBOT_AGENT_URL": agent.url, "SNOOZEBOT_TOKEN": agent.tokens[who]})


SAME = [
    ("instance", "list", "--json"),
    ("instance", "list", "-p", "memory", "--filter", "team=ml", "--json"),
    ("instance", "list", "-p", "memory"),
    ("instance", "info", "mem-2", "-p", "memory", "--json"),
    ("instance", "info", "mem-2", "-p", "memory"),
    ("instance", "info", "gone", "-p", "memory"),
    ("instance", "list", "-p", "nosuch"),
    ("instance", "stop", "mem-1", "-p", "memory", "--dry-run", "--json"),
    ("plugins", "info", "nosuch"),
]


def test_same_output_and_exit_code_as_local(agent: Agent) -> None:
    for args in SAME:
        local = run_cli(*args)
        remote = via(agent, *args)
        assert (remote.returncode, remote.stdout) == (local.returncode, local.stdout), (args, remote.stderr)
        # The agent may say more (e.g. which providers are installed), never something else.
        assert remote.stderr.startswith(local.stderr.rstrip("\n")), (args, local.stderr, remote.stderr)


@pytest.mark.both_backends
def test_stop_and_start_through_the_agent(agent: Agent) -> None:
    stopped = run_cli("instance", "stop", "mem-1", "mem-3", "gone", "-p", "memory", "--json", "--agent", agent.url,
                      env={"SNOOZEBOT_TOKEN": agent.tokens["operator"]})
    assert stopped.returncode == 1
    assert stopped.json() == [
        {"id": "mem-1", "provider": "memory", "ok": True, "state": "stopped", "error": None, "target": None, "scope": {}},
        {"id": "mem-3", "provider": "memory", "ok": True, "state": "stopped", "error": None, "target": None, "scope": {}},
        {"id": "gone", "provider": "memory", "ok": False, "state": None,
         "error": {"code": "instance_not_found", "message": "instance gone not found"}, "target": None, "scope": {}},
    ]
    assert stopped.stderr == "snoozebot: error: 1 of 3 instance(s) failed to stop\n"
    states = {i["id"]: i["state"] for i in run_cli("instance", "list", "-p", "memory", "--json").json()}
    assert states == {"mem-0": "running", "mem-1": "stopped", "mem-2": "running", "mem-3": "stopped"}
    started = via(agent, "instance", "start", "mem-1", "-p", "memory", "--wait", "--json")
    assert started.returncode == 0 and started.json()[0]["state"] == "running"
    rows = select(agent.home, "SELECT actor, source, instance, action, result FROM attempts ORDER BY id")
    # Recorded once, by the agent, under the token's name (the stops were sent concurrently).
    assert sorted(rows[:3]) == [
        ("operator", "agent", "gone", "stop", "error"),
        ("operator", "agent", "mem-1", "stop", "ok"),
        ("operator", "agent", "mem-3", "stop", "ok"),
    ]
    assert rows[3:] == [("operator", "agent", "mem-1", "start", "ok")]


def test_plugins_commands_through_the_agent(agent: Agent) -> None:
    listed = via(agent, "plugins", "list", "--json", who="viewer")
    assert listed.returncode == 0
    memory = next(p for p in listed.json() if p["name"] == "memory")
    assert memory["loaded"] is True and memory["status"] == "running"  # the agent's worker
    assert memory["pid"] == agent.client("viewer").get("/api/plugins/memory").json()["pid"]
    loaded = via(agent, "plugins", "load", "noisy", "--json", who="admin")
    assert loaded.returncode == 0 and loaded.json()["name"] == "noisy" and loaded.json()["loaded"] is True
    assert "noisy" in [p["name"] for p in agent.client("viewer").get("/api/plugins").json()]
    unloaded = via(agent, "plugins", "unload", "noisy", who="admin")
    assert unloaded.returncode == 0 and unloaded.stderr == "Unloaded noisy.\n"
    info = via(agent, "plugins", "info", "memory", "--json", who="viewer")
    assert info.returncode == 0 and info.json()["plugin_version"] == "1.0.0"


@pytest.mark.parametrize(
    ("args", "who", "code", "message"),
    [
        (("plugins", "load", "noisy"), "operator", 2, "the agent refused the token"),
        (("instance", "stop", "mem-0", "-p", "memory"), "viewer", 2, "has role viewer; this needs operator"),
        (("instance", "list", "-p", "noisy"), "viewer", 3, "installed but not loaded"),
        (("instance", "list", "-p", "memory", "-o", "count=1"), "viewer", 2, "-o/--option does not apply"),
        (("plugins", "load", "broken"), "admin", 3, "snoozebot_fixture_missing_dependency"),
    ],
)
def test_errors_through_the_agent(agent: Agent, args: tuple[str, ...], who: str, code: int, message: str) -> None:
    result = via(agent, *args, who=who)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("snoozebot: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_crash_in_the_agents_worker_is_exit_3(agent: Agent) -> None:
    assert agent.client().post("/api/plugins/load", json={"plugin": "crashy"}).status_code == 200
    result = via(agent, "instance", "list", "-p", "crashy")
    assert result.returncode == 3
    assert "plugin 'crashy' crashed" in result.stderr


def test_no_agent_and_no_token() -> None:
    down = run_cli("plugins", "list", "--agent", "http://127.0.0.1:9", env={"SNOOZEBOT_TOKEN": "x"})
    assert down.returncode == 3 and "cannot reach the agent at http://127.0.0.1:9" in down.stderr
    missing = run_cli("instance", "list", env={"SNOOZEBOT_AGENT_URL": "http://127.0.0.1:9"})
    assert missing.returncode == 2 and "set SNOOZEBOT_TOKEN" in missing.stderr
    bad = run_cli("instance", "list", "--agent", "127.0.0.1:8080")
    assert bad.returncode == 2 and "must look like http://HOST:PORT" in bad.stderr


@pytest.mark.parametrize(
    ("status", "error", "kind", "exit_code"),
    [
        (401, {"code": "unauthorized", "message": "m"}, "UsageError", 2),
        (403, {"code": "forbidden", "message": "m"}, "UsageError", 2),
        (404, {"code": "plugin_not_found", "message": "m", "plugin": "x"}, "PluginNotFound", 3),
        (409, {"code": "not_loaded", "message": "m", "plugin": "x"}, "PluginUnavailable", 3),
        (409, {"code": "required_by_others", "message": "m"}, "UsageError", 2),
        (503, {"code": "plugin_crashed", "message": "m", "plugin": "x"}, "PluginCrashed", 3),
        (503, {"code": "plugin_timeout", "message": "m", "plugin": "x"}, "PluginTimeout", 3),
        (503, {"code": "plugin_unavailable", "message": "m", "plugin": "x"}, "PluginUnavailable", 3),
        (503, {"code": "configuration_error", "message": "m"}, "ConfigurationError", 2),
        (404, {"code": "instance_not_found", "message": "m", "cloud_code": "NotFound"}, "InstanceNotFound", 1),
        (502, {"code": "permission_denied", "message": "m", "cloud_code": "Denied"}, "PermissionDenied", 1),
        (422, {"code": "invalid_request", "message": "m"}, "UsageError", 2),
        (500, {"code": "internal", "message": "m"}, "AgentUnavailable", 3),
        (404, {"code": "not_found", "message": "Not Found"}, "AgentUnavailable", 3),
    ],
)
def test_agent_answers_map_to_the_cli_exit_codes(status: int, error: dict[str, str], kind: str, exit_code: int) -> None:
    from snoozebot.errors import exit_code_for
    from snoozebot.remote import error_from_answer

    exc = error_from_answer(status, {"error": error})
    assert type(exc).__name__ == kind
    assert exit_code_for(exc) == exit_code
    assert getattr(exc, "cloud_code", None) == error.get("cloud_code")
