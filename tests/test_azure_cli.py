"""`snoozebot instance ... -p azure` end to end: the real CLI, its azure worker, the fake ARM over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import doc_table, free_port, leftover_workers, run_cli
from fake_arm import SUBSCRIPTION, FakeArm


@pytest.fixture(autouse=True)
def no_real_azure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the developer's own Azure setup leaks into the CLI under test."""
    for key in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def arm(isolated_home: Path) -> Iterator[FakeArm]:
    with FakeArm() as fake:
        fake.add_vm("web-rg", "web-1", tags={"team": "web"}, zones=["1"])
        fake.add_vm("web-rg", "web-2", tags={"team": "web"}, power="stopped")
        fake.add_vm("ml-rg", "ml-1", tags={"team": "ml"}, hibernation_enabled=True)
        fake.add_vm("ml-rg", "ml-2", tags={"team": "ml"}, power="deallocated")
        yield fake
    assert leftover_workers(isolated_home) == []


def opts(arm: FakeArm, *extra: str) -> list[str]:
    """What a user types against an emulator: endpoint, anonymous credentials, subscription."""
    options = [f"endpoint={arm.endpoint}", "credentials=anonymous", f"subscription_id={SUBSCRIPTION}", *extra]
    return ["-p", "azure", *(arg for option in options for arg in ("-o", option))]


def test_list_from_the_config_file_with_a_tag_filter(arm: FakeArm, tmp_path: Path) -> None:
    config = tmp_path / "azure.toml"
    config.write_text(
        f'[providers.azure]\nsubscription_id = "{SUBSCRIPTION}"\nendpoint = "{arm.endpoint}"\n'
        'credentials = "anonymous"\n'
    )
    result = run_cli("instance", "list", "-p", "azure", "--config", str(config), "--filter", "team=web", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["id"]: r for r in result.json()}
    assert set(rows) == {"web-rg/web-1", "web-rg/web-2"}
    assert (rows["web-rg/web-1"]["state"], rows["web-rg/web-1"]["zone"]) == ("running", "1")
    # stopped but still allocated: stopped, the raw state says so, and stderr warns about the bill
    assert (rows["web-rg/web-2"]["state"], rows["web-rg/web-2"]["raw_state"]) == ("stopped", "PowerState/stopped")
    assert "still billed" in result.stderr and "web-rg/web-2" in result.stderr


def test_list_with_the_subscription_from_the_environment(arm: FakeArm) -> None:
    result = run_cli(
        "instance", "list", "-p", "azure", "-o", f"endpoint={arm.endpoint}",  # http: anonymous by default
        env={"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION},
    )
    assert result.returncode == 0, result.stderr
    for iid in ("web-rg/web-1", "web-rg/web-2", "ml-rg/ml-1", "ml-rg/ml-2"):
        assert iid in result.stdout


def test_info_shows_the_raw_power_state(arm: FakeArm) -> None:
    result = run_cli("instance", "info", "ml-rg/ml-2", *opts(arm), "--json")
    assert result.returncode == 0, result.stderr
    info = result.json()
    assert (info["id"], info["state"], info["raw_state"]) == ("ml-rg/ml-2", "stopped", "PowerState/deallocated")
    assert info["launch_time"] == "2026-01-01T08:00:00+00:00"


def test_info_of_an_unknown_vm_fails_with_one_line(arm: FakeArm) -> None:
    result = run_cli("instance", "info", "web-rg/ghost", *opts(arm))
    assert result.returncode == 1
    assert result.stderr.startswith("snoozebot: error: ") and "ResourceNotFound" in result.stderr
    assert "Traceback" not in result.stderr


def test_stop_waits_until_deallocated(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", *opts(arm), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json() == [
        {"id": "web-rg/web-1", "provider": "azure", "ok": True, "state": "stopped", "error": None, "target": None, "scope": {}}
    ]
    assert arm.power("web-rg", "web-1") == "deallocated"
    assert arm.count("POST", "/virtualMachines/web-1/deallocate") == 1
    history = run_cli("history", "--json")
    assert history.returncode == 0, history.stderr
    assert any(row.get("instance") == "web-rg/web-1" and row.get("provider") == "azure" for row in history.json())


def test_stop_without_wait_returns_while_deallocating(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", *opts(arm), "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()[0]["state"] == "stopping"


def test_poweroff_mode_stops_without_deallocating_and_warns(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", *opts(arm, "stop_mode=poweroff"), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json()[0]["state"] == "stopped"
    assert "still bills" in result.stderr
    assert arm.power("web-rg", "web-1") == "stopped"
    info = run_cli("instance", "info", "web-rg/web-1", *opts(arm), "--json")
    assert info.json()["raw_state"] == "PowerState/stopped"


def test_hibernate_and_resume(arm: FakeArm) -> None:
    stop = run_cli("instance", "stop", "ml-rg/ml-1", *opts(arm), "--hibernate", "--wait", "--json")
    assert stop.returncode == 0, stop.stderr
    assert stop.json()[0]["state"] == "suspended"
    assert arm.vm("ml-rg", "ml-1").hibernated
    start = run_cli("instance", "start", "ml-rg/ml-1", *opts(arm), "--wait", "--json")
    assert start.returncode == 0, start.stderr
    assert start.json()[0]["state"] == "running"


def test_hibernate_on_a_vm_without_support_fails(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", *opts(arm), "--hibernate", "--json")
    assert result.returncode == 1
    [row] = result.json()
    assert (row["ok"], row["error"]["code"]) == (False, "invalid_instance_state")
    assert arm.power("web-rg", "web-1") == "running"


def test_start_waits_until_running(arm: FakeArm) -> None:
    result = run_cli("instance", "start", "ml-rg/ml-2", "web-rg/web-2", *opts(arm), "--wait", "--json")
    assert result.returncode == 0, result.stderr
    assert {r["id"]: r["state"] for r in result.json()} == {"ml-rg/ml-2": "running", "web-rg/web-2": "running"}
    assert (arm.power("ml-rg", "ml-2"), arm.power("web-rg", "web-2")) == ("running", "running")


def test_dry_run_sends_no_operation(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", "ml-rg/ml-1", *opts(arm), "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    assert all(r["ok"] for r in result.json())
    assert arm.count("POST") == 0
    assert arm.power("web-rg", "web-1") == "running"


def test_a_mixed_batch_stops_the_good_ones_and_exits_1(arm: FakeArm) -> None:
    result = run_cli("instance", "stop", "web-rg/web-1", "web-rg/ghost", "nonsense", *opts(arm), "--json")
    assert result.returncode == 1
    rows = {r["id"]: r for r in result.json()}
    assert rows["web-rg/web-1"]["ok"] is True
    assert rows["web-rg/ghost"]["error"]["code"] == "instance_not_found"
    assert rows["nonsense"]["error"]["code"] == "instance_not_found"
    assert "RESOURCE_GROUP/VM_NAME" in rows["nonsense"]["error"]["message"]
    assert arm.power("web-rg", "web-1") in ("deallocating", "deallocated")


def test_authorization_failed_exits_1_as_permission_denied(arm: FakeArm) -> None:
    arm.deny("web-rg", "web-1", "deallocate")
    result = run_cli("instance", "stop", "web-rg/web-1", *opts(arm), "--json")
    assert result.returncode == 1
    [row] = result.json()
    assert row["error"]["code"] == "permission_denied" and "AuthorizationFailed" in row["error"]["message"]


def test_a_failed_operation_ends_the_wait_with_its_error(arm: FakeArm) -> None:
    arm.fail_next("ml-rg", "ml-2", "start", code="AllocationFailed", message="Allocation failed. No capacity.")
    result = run_cli("instance", "start", "ml-rg/ml-2", *opts(arm), "--wait", "--json", "--timeout", "20")
    assert result.returncode == 1, result.stdout
    [row] = result.json()
    assert row["ok"] is False
    assert "AllocationFailed" in row["error"]["message"]
    assert arm.power("ml-rg", "ml-2") == "deallocated"


def test_persistent_throttling_exits_1_as_throttled(arm: FakeArm) -> None:
    arm.throttle(100)
    result = run_cli("instance", "info", "web-rg/web-1", *opts(arm))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "TooManyRequests" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "no Azure subscription"),
        ([f"subscription_id={SUBSCRIPTION}", "credentials=default"], "plain http"),
        ([f"subscription_id={SUBSCRIPTION}", "stop_mode=sleep"], "stop_mode must be one of"),
    ],
)
def test_configuration_errors_exit_2_with_one_line(arm: FakeArm, options: list[str], message: str) -> None:
    args = ["-o", f"endpoint={arm.endpoint}", "-o", "credentials=anonymous"]
    for option in options:
        args += ["-o", option]
    result = run_cli("instance", "list", "-p", "azure", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("snoozebot: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_an_unreachable_endpoint_fails_with_one_line(isolated_home: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run_cli("instance", "info", "rg/vm", "-p", "azure", "-o", f"endpoint={endpoint}", "-o", f"subscription_id={SUBSCRIPTION}")
    assert result.returncode == 1
    assert result.stderr.startswith("snoozebot: error: cannot reach Azure Resource Manager")
    assert result.stderr.count("\n") == 1
    assert leftover_workers(isolated_home) == []


def test_the_host_never_imports_the_azure_sdk(arm: FakeArm) -> None:
    import json
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from snoozebot.cli.main import run\n"
        "code = run(sys.argv[1:])\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'snoozebot_azure'))\n"
        "print(json.dumps({'code': code, 'leaked': leaked}), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "instance", "stop", "web-rg/web-1", *opts(arm), "--wait", "--json"],
        check=False, capture_output=True, text=True, timeout=60,
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "leaked": []}, proc.stderr
    assert arm.power("web-rg", "web-1") == "deallocated"  # the worker did the work


# -- docs/azure.md keeps up with the code ----------------------------------------------

DOC = (Path(__file__).resolve().parent.parent / "docs" / "azure.md").read_text()


def _table(heading: str) -> list[list[str]]:
    return doc_table("azure.md", heading)


def test_docs_list_exactly_the_options() -> None:
    from snoozebot_azure._settings import KNOWN_OPTIONS

    assert [row[0].strip("`") for row in _table("Options")] == list(KNOWN_OPTIONS)


def test_docs_state_table_is_the_mapping() -> None:
    import re

    from snoozebot_azure._states import map_state

    rows = _table("States")
    assert len(rows) == 8
    for codes_cell, state in rows:
        codes = re.findall(r"`((?:PowerState|HibernationState)/\w+)`", codes_cell)
        if not codes:  # "anything else, or no power state"
            assert state == "`unknown`"
            assert map_state(["PowerState/fromTheFuture"])[0].value == map_state([])[0].value == "unknown"
        elif " + " in codes_cell:
            assert map_state(codes)[0].value == state.strip("`"), codes_cell
        else:
            for code in codes:
                assert map_state([code])[0].value == state.strip("`"), code


def test_docs_commands_use_real_options() -> None:
    import re

    from snoozebot_azure._settings import KNOWN_OPTIONS

    lines = [line[2:] for line in DOC.replace("\\\n", " ").splitlines() if line.startswith("$ snoozebot instance ")]
    assert len(lines) >= 5
    helps: dict[str, str] = {}
    for line in lines:
        command = line.split()[2]
        if command not in helps:
            result = run_cli("instance", command, "--help")
            assert result.returncode == 0, result.stderr
            helps[command] = result.stdout
        text = line.split("#")[0]
        for flag in re.findall(r"(?<= )--?[a-z][-a-z]*", text):
            assert flag in helps[command], f"{flag} is not an option of `instance {command}`"
        for key in re.findall(r"-o (\w+)=", text):
            assert key in KNOWN_OPTIONS, key
