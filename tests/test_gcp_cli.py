"""`snoozebot instance ... -p gcp` end to end: the real CLI, its gcp worker, and the fake over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import doc_table, leftover_workers, run_cli
from fake_gce import ACCESS_TOKEN, FakeComputeEngine, isolate_from_google, write_service_account_key

A, B = "us-central1-a", "europe-west1-b"


@pytest.fixture(autouse=True)
def no_real_google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_from_google(monkeypatch, tmp_path)


@pytest.fixture
def gce(isolated_home: Path) -> Iterator[FakeComputeEngine]:
    with FakeComputeEngine(project="demo-project") as fake:
        fake.add_instance(A, "vm-1", labels={"env": "prod"})
        fake.add_instance(A, "vm-2", labels={"env": "dev"})
        fake.add_instance(B, "vm-3", status="TERMINATED", labels={"env": "prod"})
        yield fake
    assert leftover_workers(isolated_home) == []


def opts(gce: FakeComputeEngine) -> list[str]:
    """What a user types against an emulator: endpoint, anonymous credentials, project."""
    return ["-p", "gcp", "-o", f"endpoint={gce.base_url}", "-o", "credentials=anonymous", "-o", f"project={gce.project}"]


def env(gce: FakeComputeEngine) -> dict[str, str]:
    """The gcloud-style environment instead of options."""
    return {"CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": gce.base_url, "GOOGLE_CLOUD_PROJECT": gce.project}


def test_list_through_the_environment(gce) -> None:
    result = run_cli("instance", "list", "-p", "gcp", "--json", env=env(gce))
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in result.json()}
    assert set(rows) == {f"{A}/vm-1", f"{A}/vm-2", f"{B}/vm-3"}
    assert rows[f"{B}/vm-3"]["state"] == "stopped" and rows[f"{B}/vm-3"]["raw_state"] == "TERMINATED"
    assert rows[f"{A}/vm-1"]["tags"] == {"env": "prod"} and rows[f"{A}/vm-1"]["region"] == "us-central1"


def test_loaded_gcp_is_listed_without_naming_it(gce) -> None:
    load = run_cli("plugins", "load", "gcp", env=env(gce))
    assert load.returncode == 0, load.stderr
    result = run_cli("instance", "list", "--filter", "env=prod", "--json", env=env(gce))
    assert result.returncode == 0, result.stderr
    assert {r["id"] for r in result.json()} == {f"{A}/vm-1", f"{B}/vm-3"}


def test_list_with_a_label_filter_and_a_zone(gce) -> None:
    result = run_cli("instance", "list", *opts(gce), "-o", f"zone={A}", "--filter", "env=prod", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in result.json()] == ["vm-1"]
    assert gce.calls("instances.list")[0].query["filter"] == "labels.env = prod"


def test_info_with_a_zone_in_the_config_file_and_a_service_account_key(gce, tmp_path) -> None:
    key = write_service_account_key(tmp_path / "key.json", token_uri=gce.token_url, project=gce.project)
    config = tmp_path / "snoozebot.toml"
    config.write_text(f'[providers.gcp]\nzone = "{A}"\nendpoint = "{gce.root_url}"\ncredentials = "{key}"\n')
    result = run_cli("instance", "info", "vm-2", "-p", "gcp", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    data = result.json()
    assert (data["id"], data["state"], data["raw_state"], data["zone"]) == ("vm-2", "running", "RUNNING", A)
    assert gce.calls("instances.get")[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert "PRIVATE KEY" not in result.stdout + result.stderr


def test_stop_and_wait_until_terminated(gce) -> None:
    result = run_cli("instance", "stop", f"{A}/vm-1", *opts(gce), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json() == [{"id": f"{A}/vm-1", "provider": "gcp", "ok": True, "state": "stopped", "error": None, "target": None, "scope": {}}]
    assert gce.status(A, "vm-1") == "TERMINATED"
    assert gce.calls("zoneOperations.wait"), "--wait waits on the operation"
    assert gce.calls("instances.stop")[0].query["requestId"]


def test_stop_without_wait_reports_stopping(gce) -> None:
    result = run_cli("instance", "stop", f"{A}/vm-1", "-p", "gcp", "--json", env=env(gce))
    assert result.returncode == 0, result.stderr
    assert result.json()[0]["state"] == "stopping"
    assert gce.status(A, "vm-1") != "RUNNING"


def test_hibernate_suspends_and_start_resumes(gce) -> None:
    stop = run_cli("instance", "stop", f"{A}/vm-2", *opts(gce), "--hibernate", "--wait", "--json")
    assert stop.returncode == 0, stop.stderr
    assert stop.json()[0]["state"] == "suspended" and gce.status(A, "vm-2") == "SUSPENDED"
    start = run_cli("instance", "start", f"{A}/vm-2", *opts(gce), "--wait", "--json")
    assert start.returncode == 0, start.stderr
    assert start.json()[0]["state"] == "running" and gce.status(A, "vm-2") == "RUNNING"
    assert len(gce.calls("instances.suspend")) == 1 and len(gce.calls("instances.resume")) == 1


def test_a_failed_operation_fails_the_wait(gce) -> None:
    gce.fail_operation(B, "vm-3")
    result = run_cli("instance", "start", f"{B}/vm-3", *opts(gce), "--wait", "--json")
    assert result.returncode == 1
    [row] = result.json()
    assert row["ok"] is False and "enough resources" in row["error"]["message"]
    assert "Traceback" not in result.stderr


def test_throttled_once_then_fine(gce) -> None:
    gce.fail("instances.stop", 429)
    result = run_cli("instance", "stop", f"{A}/vm-1", *opts(gce), "--json")
    assert result.returncode == 0, result.stderr
    assert len(gce.calls("instances.stop")) == 2


def test_forbidden_and_missing_instances_fail_one_by_one(gce) -> None:
    gce.deny(A, "vm-1", "stop")
    result = run_cli("instance", "stop", f"{A}/vm-1", f"{A}/ghost", f"{A}/vm-2", *opts(gce), "--json")
    assert result.returncode == 1
    rows = {r["id"]: r for r in result.json()}
    assert rows[f"{A}/vm-1"]["error"]["code"] == "permission_denied"
    assert rows[f"{A}/ghost"]["error"]["code"] == "instance_not_found"
    assert rows[f"{A}/vm-2"]["ok"] is True


def test_info_of_a_missing_instance_is_one_line(gce) -> None:
    result = run_cli("instance", "info", f"{A}/ghost", *opts(gce))
    assert result.returncode == 1
    assert result.stderr.startswith("snoozebot: error: ") and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_missing_project_is_a_one_line_configuration_error(gce) -> None:
    result = run_cli("instance", "list", "-p", "gcp", "-o", f"endpoint={gce.base_url}")
    assert result.returncode == 2
    assert "GOOGLE_CLOUD_PROJECT" in result.stderr and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_dry_run_touches_nothing(gce) -> None:
    result = run_cli("instance", "stop", f"{A}/vm-1", f"{A}/vm-2", *opts(gce), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["state"] for r in result.json()] == ["running", "running"]
    assert not [r for r in gce.requests if r.method == "POST"]


def test_through_the_agent_ids_with_a_slash_work(gce, isolated_home) -> None:
    from test_agent_harness import running_agent

    assert run_cli("plugins", "load", "gcp", env=env(gce)).returncode == 0
    config = Path(os.environ["SNOOZEBOT_CONFIG"])
    with running_agent(isolated_home, config, extra_env=env(gce)) as agent, agent.client("operator") as http:
        got = http.get(f"/api/providers/gcp/instances/{A}/vm-1")
        assert got.status_code == 200 and got.json()["raw_state"] == "RUNNING"
        stop = http.post(f"/api/providers/gcp/instances/{A}/vm-1/stop", json={"hibernate": True})
        assert stop.status_code == 200 and stop.json()["state"] == "suspending"
        assert http.get(f"/api/providers/gcp/instances/{A}/ghost").status_code == 404
        gce.fail_operation(B, "vm-3")
        remote = run_cli(
            "instance", "start", f"{B}/vm-3", "-p", "gcp", "--agent", agent.url, "--wait", "--json",
            env={"SNOOZEBOT_TOKEN": agent.tokens["operator"]},
        )
    assert remote.returncode == 1 and "enough resources" in remote.json()[0]["error"]["message"]
    assert len(gce.calls("instances.suspend")) == 1


# -- docs/gcp.md keeps up with the code ---------------------------------------------------

DOC = (Path(__file__).resolve().parent.parent / "docs" / "gcp.md").read_text()


def _table(heading: str) -> list[list[str]]:
    return doc_table("gcp.md", heading)


def test_docs_list_exactly_the_options() -> None:
    from snoozebot_gcp._settings import KNOWN_OPTIONS

    assert [row[0].strip("`") for row in _table("Options")] == list(KNOWN_OPTIONS)


def test_docs_state_table_is_the_mapping() -> None:
    import re

    from snoozebot_gcp._mapping import state_of

    rows = _table("States")
    assert len(rows) == 7
    for statuses, state in rows:
        for status in re.findall(r"`([A-Z_]+)`", statuses):
            assert state_of(status).value == state.strip("`"), status
    assert state_of("A_STATUS_FROM_THE_FUTURE").value == "unknown"


def test_docs_commands_use_real_options() -> None:
    import re

    lines = [line[2:] for line in DOC.splitlines() if line.startswith("$ snoozebot instance ")]
    assert len(lines) >= 5
    helps: dict[str, str] = {}
    for line in lines:
        command = line.split()[2]
        if command not in helps:
            result = run_cli("instance", command, "--help")
            assert result.returncode == 0, result.stderr
            helps[command] = result.stdout
        for flag in re.findall(r"(?<= )--?[a-z][-a-z]*", line.split("#")[0]):
            assert flag in helps[command], f"{flag} is not an option of `instance {command}`"
