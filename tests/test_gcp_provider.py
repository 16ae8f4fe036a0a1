"""The gcp provider in real worker processes, with the real googleapiclient, against the fake.

Everything goes through PluginManager/ProviderClient (the worker imports
googleapiclient; this test process drives it over the JSON channel), except
the pure helpers at the bottom and the fake's own fidelity checks, which use
a bare googleapiclient client built from the same static discovery document.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_gce import ACCESS_TOKEN, FakeComputeEngine, isolate_from_google, write_service_account_key

from snoozebot.config import Config
from snoozebot.host.manager import PluginManager
from snoozebot.sdk import (
    ConfigurationError,
    InstanceNotFound,
    InstanceState,
    InvalidInstanceState,
    PermissionDenied,
    ProviderError,
    Throttled,
)

A, B = "us-central1-a", "europe-west1-b"


@pytest.fixture(autouse=True)
def no_real_google(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_from_google(monkeypatch, tmp_path)


@pytest.fixture
def gce() -> Iterator[FakeComputeEngine]:
    with FakeComputeEngine(project="demo-project") as fake:
        fake.add_instance(A, "web-1", labels={"env": "prod", "team": "web"}, machine_type="n2-standard-2")
        fake.add_instance(A, "web-2", labels={"env": "dev", "team": "web"})
        fake.add_instance(B, "db-1", status="TERMINATED", labels={"env": "prod", "team": "db"})
        yield fake


@pytest.fixture
def connect(gce: FakeComputeEngine, isolated_home: Path) -> Iterator[object]:
    """``connect(**options)`` -> a ProviderClient for gcp with those options over the fake."""
    managers: list[PluginManager] = []

    def make(*, start_method: str | None = None, **options: str | None):
        defaults = {"endpoint": gce.root_url, "project": gce.project, "credentials": "anonymous"}
        overrides = {k: v for k, v in {**defaults, **options}.items() if v is not None}
        mgr = PluginManager(
            config=Config(),
            state_directory=isolated_home,
            timeout=30.0,
            option_overrides=overrides,
            start_method=start_method,
        )
        managers.append(mgr)
        return mgr.client("gcp")

    yield make
    for mgr in managers:
        mgr.shutdown()


def test_list_covers_every_zone_with_zone_slash_name_ids(connect, gce) -> None:
    found = {i.id: i for i in connect().list_instances()}
    assert set(found) == {f"{A}/web-1", f"{A}/web-2", f"{B}/db-1"}
    web = found[f"{A}/web-1"]
    assert (web.provider, web.state, web.raw_state, web.name) == ("gcp", InstanceState.RUNNING, "RUNNING", "web-1")
    assert (web.instance_type, web.zone, web.region) == ("n2-standard-2", A, "us-central1")
    assert web.tags == {"env": "prod", "team": "web"}
    assert web.launch_time == datetime(2026, 1, 5, 17, 30, 12, tzinfo=UTC)
    db = found[f"{B}/db-1"]
    assert (db.state, db.raw_state, db.region) == (InstanceState.STOPPED, "TERMINATED", "europe-west1")
    assert [r.api_method for r in gce.requests] == ["instances.aggregatedList"]


def test_label_filters_go_to_the_api_and_are_checked(connect, gce) -> None:
    client = connect()
    assert {i.id for i in client.list_instances({"env": "prod"})} == {f"{A}/web-1", f"{B}/db-1"}
    assert gce.calls("instances.aggregatedList")[-1].query["filter"] == "labels.env = prod"
    both = client.list_instances({"env": "prod", "team": "web"})  # one term sent, all checked here
    assert [i.id for i in both] == [f"{A}/web-1"]
    assert gce.calls("instances.aggregatedList")[-1].query["filter"] == "labels.env = prod"
    assert client.list_instances({"env": "staging"}) == []
    assert client.list_instances({"Env": "Prod"}) == []  # not a label: matches nothing
    assert "filter" not in gce.calls("instances.aggregatedList")[-1].query


def test_a_fake_that_ignores_filters_still_gives_the_right_answer(connect, gce, monkeypatch) -> None:
    monkeypatch.setattr("fake_gce._parse_filter", lambda text: [])
    assert {i.id for i in connect().list_instances({"team": "db"})} == {f"{B}/db-1"}


def test_pagination_follows_next_page_tokens(connect, gce) -> None:
    gce.page_size = 2
    for n in range(5):
        gce.add_instance(B, f"batch-{n}")
    assert len(connect().list_instances()) == 8
    tokens = [r.query.get("pageToken") for r in gce.calls("instances.aggregatedList")]
    assert tokens == [None, "page-2", "page-4", "page-6"]


def test_zone_option_lists_one_zone_with_bare_names(connect, gce) -> None:
    client = connect(zone=A)
    assert {i.id for i in client.list_instances()} == {"web-1", "web-2"}
    assert gce.calls("instances.list")[0].path == f"/compute/v1/projects/demo-project/zones/{A}/instances"
    assert client.get_instance_info("web-2").zone == A
    assert client.get_instance_info(f"{B}/db-1").id == f"{B}/db-1"  # another zone stays explicit


def test_unknown_and_malformed_ids_are_not_found(connect) -> None:
    client = connect()
    with pytest.raises(InstanceNotFound, match="was not found") as info:
        client.get_instance_info(f"{A}/ghost")
    assert info.value.cloud_code == "notFound"
    with pytest.raises(InstanceNotFound, match="ZONE/NAME"):
        client.get_instance_info("web-1")  # no zone option: a bare name is not enough
    with pytest.raises(InstanceNotFound, match="not a gcp instance id"):
        client.get_instance_info(f"{A}/../../etc")
    with pytest.raises(InstanceNotFound, match="zones/nowhere-1-z"):
        client.get_instance_info("nowhere-1-z/web-1")


def test_stop_goes_running_stopping_terminated_with_a_request_id(connect, gce) -> None:
    client = connect()
    [outcome] = client.stop_instances([f"{A}/web-1"])
    assert outcome.ok and outcome.instance.state is InstanceState.STOPPING
    [stop] = gce.calls("instances.stop")
    assert stop.method == "POST" and stop.path.endswith(f"/zones/{A}/instances/web-1/stop")
    uuid.UUID(stop.query["requestId"])
    seen = [client.get_instance_info(f"{A}/web-1").state for _ in range(3)]
    assert seen[-1] is InstanceState.STOPPED and gce.status(A, "web-1") == "TERMINATED"
    waits = gce.calls("zoneOperations.wait")
    assert waits and waits[0].path.endswith("/wait")


def test_stopping_a_stopped_instance_changes_nothing(connect, gce) -> None:
    [outcome] = connect().stop_instances([f"{B}/db-1"])
    assert outcome.ok and outcome.instance.state is InstanceState.STOPPED
    assert gce.calls("instances.stop") == []


def test_transitions_that_need_no_call_or_cannot_be_made_now(connect, gce) -> None:
    client = connect()
    [suspend] = client.stop_instances([f"{B}/db-1"], hibernate=True)  # already stopped
    assert suspend.ok and suspend.instance.state is InstanceState.STOPPED
    client.stop_instances([f"{A}/web-1"])
    [start] = client.start_instances([f"{A}/web-1"])  # still STOPPING
    assert start.failure.code == InvalidInstanceState.code and "STOPPING" in start.failure.message
    assert gce.calls("instances.suspend") == [] and gce.calls("instances.start") == []


def test_refused_credentials_are_a_configuration_error(connect, gce) -> None:
    gce.fail("instances.get", 401)
    with pytest.raises(ConfigurationError, match="credentials"):
        connect().get_instance_info(f"{A}/web-1")


def test_hibernate_suspends_and_start_resumes(connect, gce) -> None:
    client = connect()
    [outcome] = client.stop_instances([f"{A}/web-2"], hibernate=True)
    assert outcome.instance.state is InstanceState.SUSPENDING
    assert len(gce.calls("instances.suspend")) == 1 and gce.calls("instances.stop") == []
    for _ in range(3):
        client.get_instance_info(f"{A}/web-2")
    assert gce.status(A, "web-2") == "SUSPENDED"
    assert client.get_instance_info(f"{A}/web-2").state is InstanceState.SUSPENDED
    [outcome] = client.start_instances([f"{A}/web-2"])
    assert outcome.ok and outcome.instance.state is InstanceState.PENDING
    assert len(gce.calls("instances.resume")) == 1 and gce.calls("instances.start") == []
    for _ in range(3):
        client.get_instance_info(f"{A}/web-2")
    assert gce.status(A, "web-2") == "RUNNING"


def test_start_of_a_stopped_instance_calls_start(connect, gce) -> None:
    [outcome] = connect().start_instances([f"{B}/db-1"])
    assert outcome.ok and outcome.instance.raw_state in ("PROVISIONING", "STAGING")
    assert len(gce.calls("instances.start")) == 1


def test_a_done_operation_with_an_error_is_a_failure(connect, gce) -> None:
    gce.fail_operation(B, "db-1")
    client = connect()
    [outcome] = client.start_instances([f"{B}/db-1"])
    assert outcome.ok  # the request itself was accepted
    with pytest.raises(ProviderError, match="enough resources") as info:
        for _ in range(10):
            client.get_instance_info(f"{B}/db-1")
    assert info.value.cloud_code == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert gce.status(B, "db-1") == "TERMINATED"
    assert client.get_instance_info(f"{B}/db-1").state is InstanceState.STOPPED  # reported once


def test_an_unreadable_operation_falls_back_to_the_instance_status(connect, gce) -> None:
    client = connect()
    client.stop_instances([f"{A}/web-1"])
    gce.fail("zoneOperations.wait", 404)
    assert client.get_instance_info(f"{A}/web-1").state in (InstanceState.STOPPING, InstanceState.STOPPED)
    assert len(gce.calls("zoneOperations.wait")) == 1
    client.get_instance_info(f"{A}/web-1")
    assert len(gce.calls("zoneOperations.wait")) == 1  # forgotten, not asked again


def test_a_slow_operation_wait_is_bounded(gce, monkeypatch) -> None:
    # In-process, to shorten the bound; everything else is the real client over HTTP.
    from snoozebot_gcp import GcpProvider, _provider

    monkeypatch.setattr(_provider, "_OPERATION_WAIT_TIMEOUT", 0.3)
    gce.delays["zoneOperations.wait"] = 1.5
    provider = GcpProvider({"endpoint": gce.base_url, "project": gce.project, "credentials": "anonymous"})
    try:
        provider.stop_instance(f"{A}/web-1")
        info = provider.get_instance_info(f"{A}/web-1")
        assert info.state in (InstanceState.STOPPING, InstanceState.STOPPED)
        assert len(gce.calls("zoneOperations.wait")) == 1
    finally:
        provider.close()


def test_a_request_without_an_answer_fails_without_retries(gce, monkeypatch) -> None:
    from snoozebot_gcp import GcpProvider, _provider

    monkeypatch.setattr(_provider, "_HTTP_TIMEOUT", 0.3)
    gce.delays["instances.get"] = 1.0
    provider = GcpProvider({"endpoint": gce.base_url, "project": gce.project, "credentials": "anonymous"})
    try:
        with pytest.raises(ProviderError, match="no answer from .* within 0.3s"):
            provider.get_instance_info(f"{A}/web-1")
        assert len(gce.calls("instances.get")) == 1
    finally:
        provider.close()


def test_forbidden_is_permission_denied(connect, gce) -> None:
    gce.deny(A, "web-1", "stop")
    [outcome] = connect().stop_instances([f"{A}/web-1"])
    assert outcome.failure.code == PermissionDenied.code
    assert "compute.instances.stop" in outcome.failure.message
    assert gce.status(A, "web-1") == "RUNNING"


def test_429_is_retried_with_the_same_request_id(connect, gce) -> None:
    gce.fail("instances.stop", 429)
    [outcome] = connect().stop_instances([f"{A}/web-1"])
    assert outcome.ok and outcome.instance.state is InstanceState.STOPPING
    first, second = gce.calls("instances.stop")
    assert first.query["requestId"] == second.query["requestId"]


def test_persistent_5xx_ends_as_throttled(connect, gce) -> None:
    gce.fail("instances.get", 503, times=100)
    with pytest.raises(Throttled, match="5 attempts"):
        connect().get_instance_info(f"{A}/web-1")
    assert len(gce.calls("instances.get")) == 5


def test_dry_run_calls_nothing_that_mutates(connect, gce) -> None:
    client = connect()
    [stop] = client.stop_instances([f"{A}/web-1"], dry_run=True)
    [start] = client.start_instances([f"{B}/db-1"], dry_run=True)
    assert stop.instance.state is InstanceState.RUNNING and start.instance.state is InstanceState.STOPPED
    assert not [r for r in gce.requests if r.method == "POST"]


def test_unknown_statuses_are_never_acted_on(connect, gce) -> None:
    gce.add_instance(A, "odd-1", status="REPAIRING")
    gce.add_instance(A, "odd-2", status="SOMETHING_NEW")
    client = connect()
    for name in ("odd-1", "odd-2"):
        info = client.get_instance_info(f"{A}/{name}")
        assert info.state is InstanceState.UNKNOWN and info.raw_state == gce.status(A, name)
        [outcome] = client.stop_instances([f"{A}/{name}"])
        assert outcome.failure.code == InvalidInstanceState.code
    assert gce.calls("instances.stop") == []


def test_many_stops_in_one_call(connect, gce) -> None:
    ids = [f"{B}/bulk-{n}" for n in range(24)]
    for iid in ids:
        gce.add_instance(B, iid.split("/")[1])
    outcomes = connect().stop_instances([*ids, f"{A}/ghost"])
    assert all(o.ok for o in outcomes[:-1]) and outcomes[-1].failure.code == InstanceNotFound.code
    assert len({r.query["requestId"] for r in gce.calls("instances.stop")}) == 24


def test_connections_are_reused_across_batches(connect, gce) -> None:
    client = connect()
    for batch in range(3):
        ids = [f"{B}/reuse-{batch}-{n}" for n in range(8)]
        for iid in ids:
            gce.add_instance(B, iid.split("/")[1])
        assert all(o.ok for o in client.stop_instances(ids))
    ports = {r.client_port for r in gce.requests}
    assert len(gce.requests) == 3 * 8 * 3 and len(ports) <= 9  # one per concurrent request, not per thread


def test_the_host_never_imports_the_google_libraries(gce, isolated_home) -> None:
    script = f"""
import sys
from pathlib import Path
from snoozebot.config import Config
from snoozebot.host.manager import PluginManager
mgr = PluginManager(config=Config(), state_directory=Path(sys.argv[1]), timeout=30,
                    option_overrides={{"endpoint": "{gce.base_url}", "project": "{gce.project}"}})
try:
    assert len(mgr.client("gcp").list_instances()) == 3
finally:
    mgr.shutdown()
print(sorted(m for m in sys.modules if m.startswith(("google", "httplib2"))))
"""
    proc = subprocess.run([sys.executable, "-c", script, str(isolated_home)], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- configuration -----------------------------------------------------------------------


def test_environment_variables_name_endpoint_and_project(connect, gce, monkeypatch) -> None:
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", gce.base_url)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", gce.project)
    # spawn: a forkserver started earlier in this test run would not see the new variables
    client = connect(endpoint=None, project=None, credentials=None, start_method="spawn")  # plain http: anonymous
    assert len(client.list_instances()) == 3
    assert all("authorization" not in r.headers for r in gce.requests)


def test_missing_project_is_a_configuration_error_with_a_hint(connect) -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        connect(project=None).list_instances()


def test_missing_default_credentials_is_a_configuration_error_with_a_hint(connect) -> None:
    with pytest.raises(ConfigurationError, match="application-default login"):
        connect(credentials="default").list_instances()


def test_listing_a_project_or_zone_that_does_not_exist(connect) -> None:
    with pytest.raises(ConfigurationError, match="projects/nope"):
        connect(project="nope").list_instances()
    with pytest.raises(ConfigurationError, match="zones/mars-north1-a"):
        connect(zone="mars-north1-a").list_instances()


def test_bad_options_are_configuration_errors(connect, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="unknown gcp option"):
        connect(zones="us-central1-a").list_instances()
    with pytest.raises(ConfigurationError, match="no such key file"):
        connect(credentials=str(tmp_path / "missing.json")).list_instances()
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"type": "service_account", "private_key": "SECRET-MATERIAL"}')
    with pytest.raises(ConfigurationError, match="not a usable service-account key") as info:
        connect(credentials=str(garbage)).list_instances()
    assert "SECRET-MATERIAL" not in info.value.message
    with pytest.raises(ConfigurationError, match="not an http"):
        connect(endpoint="ftp://example.com").list_instances()


def test_service_account_key_file_gets_and_sends_a_token(connect, gce, tmp_path) -> None:
    key = write_service_account_key(tmp_path / "key.json", token_uri=gce.token_url, project=gce.project)
    client = connect(credentials=str(key), project=None)  # the key file names the project
    assert len(client.list_instances()) == 3
    assert gce.calls("oauth2.token")
    [listing] = gce.calls("instances.aggregatedList")
    assert listing.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


# -- the fake itself, driven by a bare googleapiclient ------------------------------------


def _bare_client(gce: FakeComputeEngine):
    from google.auth.credentials import AnonymousCredentials
    from googleapiclient.discovery import build

    return build(
        "compute",
        "v1",
        credentials=AnonymousCredentials(),
        static_discovery=True,
        client_options={"api_endpoint": gce.base_url},
    )


@pytest.mark.parametrize(
    "api_method",
    [
        "instances.aggregatedList",
        "instances.list",
        "instances.get",
        "instances.stop",
        "instances.start",
        "instances.suspend",
        "instances.resume",
        "zoneOperations.get",
        "zoneOperations.wait",
    ],
)
def test_fake_serves_the_discovery_documents_paths(gce, api_method) -> None:
    from googleapiclient.discovery_cache import get_static_doc

    doc = json.loads(get_static_doc("compute", "v1"))
    resource, method = api_method.split(".")
    spec = doc["resources"][resource]["methods"][method]
    path = spec["path"].format(project="p", zone="z", instance="i", operation="o")
    assert gce._route(spec["httpMethod"], "/" + doc["servicePath"] + path)[0] == api_method


def test_fake_refuses_a_request_id_that_is_not_a_uuid(gce) -> None:
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as info:
        _bare_client(gce).instances().stop(project=gce.project, zone=A, instance="web-1", requestId="again").execute()
    assert info.value.resp.status == 400 and gce.status(A, "web-1") == "RUNNING"


def test_fake_operations_go_pending_running_done(gce) -> None:
    compute = _bare_client(gce)
    op = compute.instances().stop(project=gce.project, zone=A, instance="web-1").execute()
    statuses = [op["status"]]
    while statuses[-1] != "DONE":
        statuses.append(compute.zoneOperations().get(project=gce.project, zone=A, operation=op["name"]).execute()["status"])
        assert len(statuses) < 10
    assert statuses[0] == "PENDING" and "RUNNING" in statuses and "error" not in op
    assert gce.status(A, "web-1") == "TERMINATED"


def test_fake_answers_errors_in_google_format(gce) -> None:
    from googleapiclient.errors import HttpError

    compute = _bare_client(gce)
    with pytest.raises(HttpError) as info:
        compute.instances().get(project=gce.project, zone=A, instance="ghost").execute()
    assert info.value.resp.status == 404 and info.value.error_details[0]["reason"] == "notFound"
    with pytest.raises(HttpError) as info:
        compute.instances().aggregatedList(project=gce.project, filter="labels.env ~ prod").execute()
    assert info.value.resp.status == 400


# -- pure helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/compute/v1/"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/compute/v1/"),
        ("http://127.0.0.1:8080/compute/v1", "http://127.0.0.1:8080/compute/v1/"),
        ("https://compute.example.com/compute/beta/", "https://compute.example.com/compute/beta/"),
    ],
)
def test_endpoint_forms(given, used) -> None:
    from snoozebot_gcp._settings import resolve_settings

    settings = resolve_settings({"endpoint": given})
    assert settings.endpoint == used
    assert settings.credentials == ("anonymous" if used.startswith("http://") else "default")


def test_instance_ids() -> None:
    from snoozebot_gcp._mapping import InstanceRef, parse_instance_id

    assert parse_instance_id("us-east1-b/vm-1", None) == InstanceRef("us-east1-b", "vm-1")
    assert parse_instance_id("vm-1", "us-east1-b") == InstanceRef("us-east1-b", "vm-1")
    assert parse_instance_id("europe-west4-a/vm-1", "us-east1-b") == InstanceRef("europe-west4-a", "vm-1")
    for bad in ("", "/vm-1", "us-east1-b/", "us-east1-b/VM_1", "a/b/c", "us-east1-b/vm-1-"):
        with pytest.raises(InstanceNotFound):
            parse_instance_id(bad, None)
