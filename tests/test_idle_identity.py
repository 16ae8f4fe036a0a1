"""Finding this instance through the metadata services, against a fake server on loopback."""

from __future__ import annotations

import time

import pytest
from fake_metadata import FakeMetadata, refused_host

from snoozebot.errors import OperationFailed, UsageError
from snoozebot.idle.identity import Identity, identify

AWS = {"instance-id": "i-0123456789abcdef0", "region": "eu-central-1"}
GCE = {"name": "trainer-1", "zone": "us-central1-a", "project": "my-proj"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    def point(*, aws: str, gce: str) -> None:
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws)
        monkeypatch.setenv("GCE_METADATA_HOST", gce)

    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # metadata must never go through a proxy
    return point


def test_aws_imdsv2_uses_a_session_token(env) -> None:
    with FakeMetadata(aws=AWS) as md:
        env(aws=md.url, gce=refused_host())
        assert identify() == Identity("aws", "i-0123456789abcdef0", {"region": "eu-central-1"})
    methods = [(m, p) for m, p, _ in md.requests]
    assert methods[0] == ("PUT", "/latest/api/token")
    token_headers = [h.get("X-aws-ec2-metadata-token") for m, _, h in md.requests if m == "GET"]
    assert all(token_headers) and len(set(token_headers)) == 1


def test_gce_after_aws_is_refused(env) -> None:
    with FakeMetadata(gce=GCE) as md:
        env(aws=f"http://{refused_host()}", gce=md.host)
        started = time.monotonic()
        me = identify()
        assert time.monotonic() - started < 1.5  # the refused AWS endpoint was given up at once
    assert me == Identity("gcp", "us-central1-a/trainer-1", {"project": "my-proj"})
    assert all(h.get("Metadata-Flavor") == "Google" for _, _, h in md.requests)


def test_gce_when_aws_answers_404(env) -> None:
    with FakeMetadata(gce=GCE) as md:
        env(aws=md.url, gce=md.host)
        assert identify().provider == "gcp"


def test_named_provider_asks_only_its_service(env) -> None:
    with FakeMetadata(aws=AWS, gce=GCE) as md:
        env(aws=md.url, gce=md.host)
        assert identify("gcp").provider == "gcp"
        assert not any(p.startswith("/latest") for _, p, _ in md.requests)


def test_not_identifiable_is_one_clear_failure(env) -> None:
    env(aws=f"http://{refused_host()}", gce=refused_host())
    started = time.monotonic()
    with pytest.raises(OperationFailed) as info:
        identify()
    assert time.monotonic() - started < 1.5
    message = str(info.value)
    assert message.startswith("cannot identify this instance from a metadata service (aws: connection refused")
    assert "gcp: connection refused" in message
    assert info.value.exit_code == 1


def test_unknown_provider_has_no_metadata_service() -> None:
    with pytest.raises(UsageError, match="no metadata service is known for provider 'memory'"):
        identify("memory")


def test_a_server_that_is_not_gce_is_not_believed(env) -> None:
    # An AWS-only server also answers /computeMetadata with 404: not GCE.
    with FakeMetadata(aws=None, gce=None) as md:
        env(aws=md.url, gce=md.host)
        with pytest.raises(OperationFailed, match="HTTP 404"):
            identify()


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
