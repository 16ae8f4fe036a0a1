"""Finding this instance through the providers' identify_self, against a fake metadata server on loopback.

The providers' own identify_self is asked in-process (it is a class method);
`identify` goes through real workers, as `idle check` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_metadata import FakeMetadata, refused_host

from snoozebot.config import Config
from snoozebot.errors import CapabilityMissing, OperationFailed, PluginNotFound
from snoozebot.host.manager import PluginManager
from snoozebot.idle.identity import identify
from snoozebot.metadata import METADATA_TIMEOUT, MetadataUnavailable
from snoozebot.sdk import Identity
from snoozebot_aws import AwsProvider
from snoozebot_azure import AzureProvider
from snoozebot_gcp import GcpProvider

AWS = {"instance-id": "i-0123456789abcdef0", "region": "eu-central-1"}
GCE = {"name": "trainer-1", "zone": "us-central1-a", "project": "my-proj"}
AZURE = {"name": "gpu-box", "resourceGroupName": "ml-rg", "subscriptionId": "00000000-0000-0000-0000-000000000001"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """Point each metadata service somewhere (default: refused at once); workers inherit it."""

    def point(*, aws: str | None = None, gce: str | None = None, azure: str | None = None) -> None:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws or f"http://{refused_host()}")
        monkeypatch.setenv("GCE_METADATA_HOST", gce or refused_host())
        monkeypatch.setenv("SNOOZEBOT_AZURE_IMDS_ENDPOINT", azure or f"http://{refused_host()}")

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # metadata must never go through a proxy
    return point


@pytest.fixture
def manager(isolated_home: Path) -> Iterator[PluginManager]:
    # spawn: each worker sees this test's environment (a forkserver started by an earlier test would not)
    mgr = PluginManager(config=Config(), state_directory=isolated_home, timeout=30.0, start_method="spawn")
    try:
        yield mgr
    finally:
        mgr.shutdown()


# -- each provider's identify_self -------------------------------------------------------


def test_aws_imdsv2_uses_a_session_token(env) -> None:
    with FakeMetadata(aws=AWS) as md:
        env(aws=md.url)
        assert AwsProvider.identify_self() == Identity("aws", "i-0123456789abcdef0", {"region": "eu-central-1"})
    methods = [(m, p) for m, p, _ in md.requests]
    assert methods[0] == ("PUT", "/latest/api/token")
    token_headers = [h.get("X-aws-ec2-metadata-token") for m, _, h in md.requests if m == "GET"]
    assert all(token_headers) and len(set(token_headers)) == 1


def test_gce_asks_with_the_metadata_flavor(env) -> None:
    with FakeMetadata(gce=GCE) as md:
        env(gce=md.host)
        assert GcpProvider.identify_self() == Identity("gcp", "us-central1-a/trainer-1", {"project": "my-proj"})
    assert md.requests and all(h.get("Metadata-Flavor") == "Google" for _, _, h in md.requests)


def test_azure_imds_names_the_vm_its_group_and_subscription(env) -> None:
    with FakeMetadata(azure=AZURE) as md:
        env(azure=md.url)
        me = AzureProvider.identify_self()
    assert me == Identity(
        "azure",
        "ml-rg/gpu-box",
        {"subscription_id": "00000000-0000-0000-0000-000000000001", "resource_group": "ml-rg"},
    )
    [(method, path, headers)] = md.requests
    assert (method, path) == ("GET", "/metadata/instance?api-version=2021-02-01")
    assert headers.get("Metadata") == "true"


@pytest.mark.parametrize("cls", [AwsProvider, GcpProvider, AzureProvider])
def test_a_refused_connection_is_given_up_at_once(env, cls) -> None:
    env()
    started = time.monotonic()
    with pytest.raises(MetadataUnavailable, match="connection refused"):
        cls.identify_self()
    assert time.monotonic() - started < METADATA_TIMEOUT / 4


@pytest.mark.parametrize("cls", [AwsProvider, GcpProvider, AzureProvider])
def test_another_server_on_that_address_is_not_believed(env, cls) -> None:
    # A server with every side switched off answers 404 everywhere: not this cloud.
    with FakeMetadata() as md:
        env(aws=md.url, gce=md.host, azure=md.url)
        with pytest.raises(MetadataUnavailable, match="HTTP 404"):
            cls.identify_self()


def test_azure_without_the_compute_fields_is_not_believed(env) -> None:
    with FakeMetadata(azure={"name": "gpu-box"}) as md:
        env(azure=md.url)
        with pytest.raises(MetadataUnavailable, match="empty VM name, resource group or subscription"):
            AzureProvider.identify_self()


# -- identify: through the workers, as idle check does ------------------------------------------


def test_without_a_provider_the_first_that_identifies_wins(env, manager: PluginManager) -> None:
    with FakeMetadata(gce=GCE) as md:
        env(aws=md.url, gce=md.host, azure=md.url)  # aws and azure answer 404 here
        assert identify(manager) == Identity("gcp", "us-central1-a/trainer-1", {"project": "my-proj"})
    asked = {path.split("/")[1] for _, path, _ in md.requests}
    assert asked == {"latest", "metadata", "computeMetadata"}


def test_azure_after_aws_is_refused(env, manager: PluginManager) -> None:
    with FakeMetadata(azure=AZURE) as md:
        env(azure=md.url)
        me = identify(manager)
    assert (me.provider, me.instance_id) == ("azure", "ml-rg/gpu-box")


def test_named_provider_asks_only_its_service(env, manager: PluginManager) -> None:
    with FakeMetadata(aws=AWS, gce=GCE, azure=AZURE) as md:
        env(aws=md.url, gce=md.host, azure=md.url)
        assert identify(manager, "gcp").provider == "gcp"
        assert not any(p.startswith(("/latest", "/metadata")) for _, p, _ in md.requests)
    assert manager.supervisor("gcp").handshake is not None
    assert {n for n in ("aws", "azure") if manager.supervisor(n).status != "not started"} == set()


def test_not_identifiable_is_one_clear_failure(env, manager: PluginManager) -> None:
    env()
    with pytest.raises(OperationFailed) as info:
        identify(manager)
    message = str(info.value)
    assert message.startswith("cannot identify this instance from a metadata service (aws: connection refused")
    assert "azure: connection refused" in message and "gcp: connection refused" in message
    assert "memory" not in message  # providers without the capability are not asked
    assert info.value.exit_code == 1


def test_a_provider_without_the_capability_is_a_usage_error(manager: PluginManager) -> None:
    with pytest.raises(CapabilityMissing, match="provider 'memory' does not offer identify_self"):
        identify(manager, "memory")


def test_an_unknown_provider_is_not_found(manager: PluginManager) -> None:
    with pytest.raises(PluginNotFound, match="no provider named 'nope' is installed"):
        identify(manager, "nope")


def test_the_idle_package_names_no_cloud() -> None:
    import snoozebot.idle

    source = "".join(p.read_text() for p in Path(snoozebot.idle.__file__).parent.glob("*.py")).lower()
    for cloud in ("aws", "gcp", "gce", "azure", "ec2", "169.254", "google"):
        assert cloud not in source, cloud


def test_no_cloud_sdk_is_imported_by_the_idle_and_schedule_commands() -> None:
    import subprocess
    import sys

    code = (
        "import sys, snoozebot.cli.idle, snoozebot.cli.schedule\n"
        "bad = [m for m in ('boto3', 'botocore', 'googleapiclient', 'google.auth', 'azure') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
