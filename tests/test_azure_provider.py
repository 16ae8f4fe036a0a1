"""The azure provider in real worker processes, driving the real SDK against the fake ARM server."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_arm import SUBSCRIPTION, FakeArm

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.host.client import ProviderClient
from snoozebot.host.manager import PluginManager

Client = Callable[..., ProviderClient]


@pytest.fixture
def arm() -> Iterator[FakeArm]:
    with FakeArm() as fake:
        fake.add_vm("web-rg", "web-1", tags={"team": "web", "env": "prod"}, zones=["2"], size="Standard_D2s_v5")
        fake.add_vm("web-rg", "web-2", tags={"team": "web"}, power="stopped")
        fake.add_vm("ml-rg", "ml-1", tags={"team": "ml"}, hibernation_enabled=True)
        fake.add_vm("ml-rg", "ml-2", tags={"team": "ml"}, power="deallocated")
        fake.add_vm("ml-rg", "ml-3", tags={"Team": "ml"}, power="deallocated", hibernation_enabled=True)
        yield fake


@pytest.fixture
def azure(arm: FakeArm, isolated_home: Path) -> Iterator[Client]:
    """Make a client of a real azure worker; extra options as keyword arguments."""
    managers: list[PluginManager] = []

    def make(start_method: str | None = None, **options: str) -> ProviderClient:
        base = {"endpoint": arm.endpoint, "credentials": "anonymous", "subscription_id": SUBSCRIPTION}
        base.update(options)
        manager = PluginManager(
            config=Config(),
            state_directory=isolated_home,
            timeout=30,
            option_overrides=base,
            start_method=start_method,
        )
        managers.append(manager)
        return manager.client("azure")

    yield make
    for manager in managers:
        manager.shutdown()


def settle(client: ProviderClient, iid: str, state: sdk.InstanceState, *, seconds: float = 10) -> sdk.Instance:
    """Read the instance until it reports ``state`` (each read is one observation in the fake)."""
    deadline = time.monotonic() + seconds
    while True:
        inst = client.get_instance_info(iid)
        if inst.state is state or time.monotonic() > deadline:
            return inst
        time.sleep(0.02)


# -- list and get --------------------------------------------------------------


def test_list_covers_the_subscription_across_pages(arm: FakeArm, azure: Client) -> None:
    arm.page_size = 2
    found = {i.id: i for i in azure().list_instances()}
    assert sorted(found) == ["ml-rg/ml-1", "ml-rg/ml-2", "ml-rg/ml-3", "web-rg/web-1", "web-rg/web-2"]
    web = found["web-rg/web-1"]
    assert (web.state, web.raw_state, web.name) == (sdk.InstanceState.RUNNING, "PowerState/running", "web-1")
    assert (web.instance_type, web.region, web.zone) == ("Standard_D2s_v5", "westeurope", "2")
    assert web.tags == {"team": "web", "env": "prod"}
    assert web.launch_time is not None and web.launch_time.tzinfo is not None
    # statuses come from the statusOnly listing, models from the plain one, both paged
    assert any(r.query.get("statusOnly") == "true" for r in arm.requests)
    assert any("$skiptoken" in r.query for r in arm.requests)
    assert arm.count("GET", "/instanceView") == 0  # the status listing had them all


def test_list_filters_on_tags_and_one_resource_group(arm: FakeArm, azure: Client) -> None:
    assert [i.id for i in azure().list_instances({"team": "web", "env": "prod"})] == ["web-rg/web-1"]
    # tag names are case-insensitive in Azure, values are not
    assert sorted(i.id for i in azure().list_instances({"TEAM": "ml"})) == ["ml-rg/ml-1", "ml-rg/ml-2", "ml-rg/ml-3"]
    assert azure().list_instances({"team": "WEB"}) == []
    in_group = azure(resource_group="ml-rg").list_instances({})
    assert sorted(i.id for i in in_group) == ["ml-rg/ml-1", "ml-rg/ml-2", "ml-rg/ml-3"]
    assert any(r.path.endswith("/resourceGroups/ml-rg/providers/Microsoft.Compute/virtualMachines") for r in arm.requests)


def test_an_empty_or_missing_resource_group(arm: FakeArm, azure: Client) -> None:
    arm.add_group("empty-rg")
    assert azure(resource_group="empty-rg").list_instances() == []
    with pytest.raises(sdk.ConfigurationError, match="ResourceGroupNotFound.*resource_group option"):
        azure(resource_group="no-such-rg").list_instances()


def test_list_asks_each_vm_the_status_listing_missed(arm: FakeArm, azure: Client) -> None:
    arm.status_only = False  # the server answers statusOnly=true with plain models
    found = {i.id: (i.state.value, i.raw_state) for i in azure().list_instances({"team": "ml"})}
    assert found == {
        "ml-rg/ml-1": ("running", "PowerState/running"),
        "ml-rg/ml-2": ("stopped", "PowerState/deallocated"),
        "ml-rg/ml-3": ("stopped", "PowerState/deallocated"),
    }
    assert arm.count("GET", "/instanceView") == 3  # only the VMs that matched the filter


def test_list_reports_stopped_but_allocated_vms(azure: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="snoozebot.plugin.azure"):
        found = {i.id: i for i in azure().list_instances()}
        deadline = time.monotonic() + 5
        while "still allocated" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)  # the worker's log message travels beside the reply
    assert (found["web-rg/web-2"].state, found["web-rg/web-2"].raw_state) == (
        sdk.InstanceState.STOPPED,
        "PowerState/stopped",
    )
    assert (found["ml-rg/ml-2"].state, found["ml-rg/ml-2"].raw_state) == (
        sdk.InstanceState.STOPPED,
        "PowerState/deallocated",
    )
    assert "1 VM(s) stopped but still allocated, so still billed" in caplog.text
    assert "web-rg/web-2" in caplog.text


def test_get_maps_power_states(arm: FakeArm, azure: Client) -> None:
    client = azure()
    arm.add_vm("ml-rg", "sleeper", power="deallocated", hibernation_enabled=True, hibernated=True)
    seen = {iid: client.get_instance_info(iid) for iid in ("web-rg/web-1", "web-rg/web-2", "ml-rg/ml-2", "ml-rg/sleeper")}
    assert {k: (v.state.value, v.raw_state) for k, v in seen.items()} == {
        "web-rg/web-1": ("running", "PowerState/running"),
        "web-rg/web-2": ("stopped", "PowerState/stopped"),
        "ml-rg/ml-2": ("stopped", "PowerState/deallocated"),
        "ml-rg/sleeper": ("suspended", "PowerState/deallocated+HibernationState/Hibernated"),
    }
    assert any(r.query.get("$expand") == "instanceView" for r in arm.requests)


def test_bare_names_with_the_resource_group_option(azure: Client) -> None:
    client = azure(resource_group="web-rg")
    assert client.get_instance_info("web-1").id == "web-1"
    assert client.get_instance_info("ml-rg/ml-1").name == "ml-1"


@pytest.mark.parametrize(
    ("iid", "cloud_code"),
    [("web-rg/nope", "ResourceNotFound"), ("no-such-rg/web-1", "ResourceGroupNotFound"), ("web-1", None), ("a/b/c", None)],
)
def test_unknown_and_malformed_ids_are_not_found(azure: Client, iid: str, cloud_code: str | None) -> None:
    with pytest.raises(sdk.InstanceNotFound) as caught:
        azure().get_instance_info(iid)
    assert caught.value.cloud_code == cloud_code
    assert "\n" not in caught.value.message


# -- stop and start -----------------------------------------------------------


def test_stop_deallocates_by_default(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [outcome] = client.stop_instances(["web-rg/web-1"])
    assert outcome.ok and outcome.instance is not None
    assert (outcome.instance.state, outcome.instance.raw_state) == (sdk.InstanceState.STOPPING, "PowerState/deallocating")
    assert arm.count("POST", "/virtualMachines/web-1/deallocate") == 1
    assert arm.count("POST", "/powerOff") == 0
    done = settle(client, "web-rg/web-1", sdk.InstanceState.STOPPED)
    assert done.raw_state == "PowerState/deallocated"
    assert arm.power("web-rg", "web-1") == "deallocated"


def test_stop_mode_poweroff_keeps_the_vm_allocated_and_says_so(
    arm: FakeArm, azure: Client, caplog: pytest.LogCaptureFixture
) -> None:
    client = azure(stop_mode="poweroff")
    with caplog.at_level(logging.WARNING, logger="snoozebot.plugin.azure"):
        [outcome] = client.stop_instances(["web-rg/web-1"])
        done = settle(client, "web-rg/web-1", sdk.InstanceState.STOPPED)
    assert outcome.ok
    assert arm.count("POST", "/virtualMachines/web-1/powerOff") == 1
    assert arm.count("POST", "/deallocate") == 0
    assert done.raw_state == "PowerState/stopped"
    assert "stays allocated: Azure still bills" in caplog.text


def test_stopping_an_allocated_stopped_vm_deallocates_it(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [outcome] = client.stop_instances(["web-rg/web-2"])
    assert outcome.ok
    assert settle(client, "web-rg/web-2", sdk.InstanceState.STOPPED).raw_state == "PowerState/deallocated"


def test_stop_and_start_are_idempotent(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [stopped] = client.stop_instances(["ml-rg/ml-2"])
    [started] = client.start_instances(["web-rg/web-1"])
    assert stopped.ok and stopped.instance is not None and stopped.instance.state is sdk.InstanceState.STOPPED
    assert started.ok and started.instance is not None and started.instance.state is sdk.InstanceState.RUNNING


def test_hibernate_uses_deallocate_with_the_hibernate_flag(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [outcome] = client.stop_instances(["ml-rg/ml-1"], hibernate=True)
    assert outcome.ok and outcome.instance is not None
    assert outcome.instance.state is sdk.InstanceState.SUSPENDING
    posts = [r for r in arm.requests if r.method == "POST"]
    assert [(r.path.rsplit("/", 1)[-1], r.query.get("hibernate")) for r in posts] == [("deallocate", "true")]
    done = settle(client, "ml-rg/ml-1", sdk.InstanceState.SUSPENDED)
    assert done.raw_state == "PowerState/deallocated+HibernationState/Hibernated"
    # start resumes it
    [resumed] = client.start_instances(["ml-rg/ml-1"])
    assert resumed.ok
    assert settle(client, "ml-rg/ml-1", sdk.InstanceState.RUNNING).raw_state == "PowerState/running"


def test_hibernate_needs_a_vm_that_supports_it(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [real] = client.stop_instances(["web-rg/web-1"], hibernate=True)
    [dry] = client.stop_instances(["web-rg/web-1"], hibernate=True, dry_run=True)
    for outcome in (real, dry):
        assert outcome.failure.code == sdk.InvalidInstanceState.code
        assert outcome.failure.cloud_code == "OperationNotAllowed"
        assert "hibernat" in outcome.failure.message.lower()
    assert arm.power("web-rg", "web-1") == "running"


def test_start_goes_through_starting_to_running(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [outcome] = client.start_instances(["ml-rg/ml-2"])
    assert outcome.ok and outcome.instance is not None
    assert (outcome.instance.state, outcome.instance.raw_state) == (sdk.InstanceState.PENDING, "PowerState/starting")
    assert arm.count("POST", "/virtualMachines/ml-2/start") == 1
    assert settle(client, "ml-rg/ml-2", sdk.InstanceState.RUNNING).raw_state == "PowerState/running"


def test_dry_run_changes_nothing(arm: FakeArm, azure: Client) -> None:
    client = azure()
    [stop] = client.stop_instances(["web-rg/web-1"], dry_run=True)
    [start] = client.start_instances(["ml-rg/ml-2"], dry_run=True)
    [hibernate] = client.stop_instances(["ml-rg/ml-1"], hibernate=True, dry_run=True)
    assert stop.instance is not None and stop.instance.state is sdk.InstanceState.RUNNING
    assert start.instance is not None and start.instance.state is sdk.InstanceState.STOPPED
    assert hibernate.ok
    assert arm.count("POST") == 0
    assert (arm.power("web-rg", "web-1"), arm.power("ml-rg", "ml-2")) == ("running", "deallocated")


def test_one_bad_id_never_aborts_the_batch(arm: FakeArm, azure: Client) -> None:
    outcomes = azure().stop_instances(["web-rg/web-1", "web-rg/ghost", "ml-rg/ml-1", "bad-id"])
    by_id = {o.id: o for o in outcomes}
    assert by_id["web-rg/web-1"].ok and by_id["ml-rg/ml-1"].ok
    assert by_id["web-rg/ghost"].failure.code == sdk.InstanceNotFound.code
    assert by_id["bad-id"].failure.code == sdk.InstanceNotFound.code
    assert arm.count("POST", "/deallocate") == 3  # the malformed id never reached ARM
    assert arm.power("web-rg", "web-1") == "deallocating"


def test_a_failed_operation_is_reported_by_the_next_read(arm: FakeArm, azure: Client) -> None:
    client = azure()
    arm.fail_next("ml-rg", "ml-2", "start", code="AllocationFailed", message="Allocation failed. Try another size.")
    [outcome] = client.start_instances(["ml-rg/ml-2"])
    assert outcome.ok  # ARM accepted the request; the operation fails later
    deadline = time.monotonic() + 10
    with pytest.raises(sdk.ProviderError) as caught:
        while time.monotonic() < deadline:
            client.get_instance_info("ml-rg/ml-2")
            time.sleep(0.02)
    assert caught.value.cloud_code == "AllocationFailed"
    assert caught.value.message == "start of ml-rg/ml-2 failed: AllocationFailed: Allocation failed. Try another size."
    # reported once; afterwards the instance reads normally, back where it was
    assert client.get_instance_info("ml-rg/ml-2").raw_state == "PowerState/deallocated"


def test_a_newer_operation_preempts_the_older_without_a_false_failure(arm: FakeArm, azure: Client) -> None:
    client = azure()
    assert client.stop_instances(["web-rg/web-1"])[0].ok
    assert client.start_instances(["web-rg/web-1"])[0].ok
    assert settle(client, "web-rg/web-1", sdk.InstanceState.RUNNING).state is sdk.InstanceState.RUNNING
    statuses = sorted(op.status for op in arm.operations.values())
    assert statuses == ["Canceled", "Succeeded"]
    assert client.get_instance_info("web-rg/web-1").state is sdk.InstanceState.RUNNING


def test_operations_are_polled_by_reads_not_in_the_background(arm: FakeArm, azure: Client) -> None:
    client = azure()
    ids = ["web-rg/web-1", "ml-rg/ml-1"]
    assert all(o.ok for o in client.stop_instances(ids))
    time.sleep(0.5)
    assert arm.count("GET", "/operations/" + next(iter(arm.operations))) == 0  # nobody read: no polling
    polls_before = sum(arm.count("GET", f"/operations/{op}") for op in arm.operations)
    settle(client, "web-rg/web-1", sdk.InstanceState.STOPPED)
    polls = sum(arm.count("GET", f"/operations/{op}") for op in arm.operations)
    assert polls_before == 0 and polls >= 1
    # once a read saw the operation succeed, it is forgotten: further reads do not poll it
    client.get_instance_info("web-rg/web-1")
    polls = sum(arm.count("GET", f"/operations/{op}") for op in arm.operations)
    client.get_instance_info("web-rg/web-1")
    assert sum(arm.count("GET", f"/operations/{op}") for op in arm.operations) == polls


def test_a_throttled_status_poll_is_not_a_failed_operation(arm: FakeArm, azure: Client) -> None:
    client = azure()
    assert client.stop_instances(["web-rg/web-1"])[0].ok
    arm.throttle(1)  # the next request is the operation's status poll
    inst = client.get_instance_info("web-rg/web-1")
    assert inst.state is sdk.InstanceState.STOPPING
    assert settle(client, "web-rg/web-1", sdk.InstanceState.STOPPED).raw_state == "PowerState/deallocated"


# -- errors ------------------------------------------------------------------


def test_authorization_failed_is_permission_denied(arm: FakeArm, azure: Client) -> None:
    arm.deny("web-rg", "web-1", "deallocate")
    [outcome] = azure().stop_instances(["web-rg/web-1"])
    assert outcome.failure.code == sdk.PermissionDenied.code
    assert outcome.failure.cloud_code == "AuthorizationFailed"
    assert "virtualMachines/deallocate/action" in outcome.failure.message


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_retried(arm: FakeArm, azure: Client, status: int) -> None:
    client = azure()
    client.ping()
    arm.throttle(2, status=status)
    assert client.get_instance_info("web-rg/web-1").state is sdk.InstanceState.RUNNING
    assert arm.count("GET", "/virtualMachines/web-1") == 3


def test_persistent_throttling_becomes_throttled(arm: FakeArm, azure: Client) -> None:
    client = azure()
    client.ping()
    arm.throttle(50)
    [outcome] = client.stop_instances(["web-rg/web-1"])
    assert outcome.failure.code == sdk.Throttled.code
    assert outcome.failure.cloud_code == "TooManyRequests"
    assert "TooManyRequests" in outcome.failure.message and "\n" not in outcome.failure.message
    assert 2 <= arm.count("POST", "/deallocate") <= 5  # bounded


def test_unknown_subscription_is_a_configuration_error(azure: Client) -> None:
    with pytest.raises(sdk.ConfigurationError, match="SubscriptionNotFound.*subscription_id"):
        azure(subscription_id="11111111-2222-3333-4444-555555555555").list_instances()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"subscription_id": ""}, "no Azure subscription"),
        ({"subscription_id": "not-a-guid"}, "subscription GUID"),
        ({"credentials": "default"}, "plain http"),
        ({"credentials": "magic"}, "credentials must be one of default, anonymous"),
        ({"stop_mode": "halt"}, "stop_mode must be one of deallocate, poweroff"),
        ({"endpoint": "ftp://x"}, "endpoint must be an http"),
        ({"subscription": "x"}, "unknown azure option"),
    ],
)
def test_bad_options_are_configuration_errors(
    azure: Client, monkeypatch: pytest.MonkeyPatch, options: dict[str, str], message: str
) -> None:
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    # spawn where the (now empty) environment matters: see the test below
    client = azure(start_method="spawn" if options.get("subscription_id") == "" else None, **options)
    error = client.ping()
    assert isinstance(error, sdk.ConfigurationError)
    assert message in error.message
    with pytest.raises(sdk.ConfigurationError):
        client.list_instances()


def test_azure_subscription_id_from_the_environment(
    arm: FakeArm, azure: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    # spawn: a fresh interpreter sees the environment as it is now (a forkserver started
    # by an earlier test would hand down the environment of its own start)
    assert len(azure(start_method="spawn", subscription_id="").list_instances()) == 5


def test_requests_carry_a_bearer_token_and_an_api_version(arm: FakeArm, azure: Client) -> None:
    azure().list_instances()
    assert arm.requests
    assert all(r.authorization == "Bearer anonymous" for r in arm.requests)
    assert all(r.query.get("api-version") for r in arm.requests)


# -- the pure parts, in process ------------------------------------------------


@pytest.mark.parametrize(
    ("codes", "state"),
    [
        (["PowerState/starting"], "pending"),
        (["PowerState/running"], "running"),
        (["PowerState/stopping"], "stopping"),
        (["PowerState/stopped"], "stopped"),
        (["PowerState/deallocating"], "stopping"),
        (["PowerState/deallocated"], "stopped"),
        (["PowerState/deallocating", "HibernationState/Hibernating"], "suspending"),
        (["PowerState/deallocated", "HibernationState/Hibernated"], "suspended"),
        (["PowerState/unknown"], "unknown"),
        (["PowerState/somethingNew"], "unknown"),
        ([], "unknown"),
    ],
)
def test_power_state_mapping(codes: list[str], state: str) -> None:
    from snoozebot_azure._states import map_state

    mapped, raw = map_state(codes)
    assert mapped.value == state
    assert raw == "+".join(codes)


def test_settings_defaults_and_environment() -> None:
    from snoozebot_azure._settings import DEFAULT_ENDPOINT, Settings

    real = Settings.from_options({}, environ={"AZURE_SUBSCRIPTION_ID": SUBSCRIPTION})
    assert (real.endpoint, real.credentials, real.stop_mode, real.plain_http) == (
        DEFAULT_ENDPOINT,
        "default",
        "deallocate",
        False,
    )
    emulator = Settings.from_options({"endpoint": "http://127.0.0.1:9/", "subscription_id": SUBSCRIPTION}, environ={})
    assert (emulator.endpoint, emulator.credentials) == ("http://127.0.0.1:9", "anonymous")
    with pytest.raises(sdk.ConfigurationError, match="AZURE_SUBSCRIPTION_ID"):
        Settings.from_options({}, environ={})


def test_missing_credentials_are_a_configuration_error_with_a_hint() -> None:
    from azure.identity import CredentialUnavailableError

    from snoozebot_azure._errors import provider_error

    error = provider_error(CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token"), subject="x")
    assert isinstance(error, sdk.ConfigurationError)
    assert "az login" in error.message and "DefaultAzureCredential failed" in error.message
