"""The aws provider in-process, against moto's EC2 server on loopback.

Throttling cannot be produced by moto: those tests answer chosen requests
with EC2's RequestLimitExceeded through botocore's own ``before-send`` hook,
so botocore's real retry machinery runs (the Stubber would bypass it).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from conftest import doc_table
from test_instance_cli import launch, states

from snoozebot.sdk import (
    ConfigurationError,
    Instance,
    InstanceNotFound,
    InstanceState,
    PermissionDenied,
    Throttled,
)
from snoozebot_aws import AwsProvider


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def throttle(provider: AwsProvider, operation: str, *, times: int) -> list[str]:
    """Answer the first ``times`` attempts of ``operation`` with RequestLimitExceeded; returns the attempt log."""
    attempts: list[str] = []

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(request.body.decode() if isinstance(request.body, bytes) else str(request.body))
        if len(attempts) > times:
            return None
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
            b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>"
        )
        return AWSResponse(request.url, 503, {}, _Body(body))

    provider._ec2.meta.events.register(f"before-send.ec2.{operation}", hook)
    return attempts


def test_list_uses_tag_filters_and_leaves_out_terminated(moto_ec2: str) -> None:
    ml = launch(2, {"Team": "ml", "Name": "trainer"})
    web = launch(1, {"Team": "web"})
    gone = launch(1, {"Team": "ml"})
    boto3.client("ec2").terminate_instances(InstanceIds=gone)
    provider = AwsProvider({})

    found = provider.list_instances({"Team": "ml"})
    assert sorted(i.id for i in found) == sorted(ml)
    assert {i.name for i in found} == {"trainer"}
    assert all(i.state is InstanceState.RUNNING and i.raw_state == "running" for i in found)
    assert all(i.region == "us-east-1" and i.zone and i.launch_time and i.launch_time.utcoffset().total_seconds() == 0 for i in found)
    assert [i.id for i in provider.list_instances({"Team": "web"})] == web
    assert provider.list_instances({"Team": "ml", "Name": "nobody"}) == []
    every = AwsProvider({"include_terminated": "true"}).list_instances({"Team": "ml"})
    assert {i.id: i.state for i in every}[gone[0]] is InstanceState.TERMINATED


def test_get_instance_info_and_not_found(moto_ec2: str) -> None:
    [iid] = launch(1, {"Name": "box"})
    provider = AwsProvider({})
    info = provider.get_instance_info(iid)
    assert (info.id, info.name, info.state, info.tags["Name"]) == (iid, "box", InstanceState.RUNNING, "box")
    with pytest.raises(InstanceNotFound) as caught:
        provider.get_instance_info("i-0000000000000dead")
    assert caught.value.cloud_code == "InvalidInstanceID.NotFound"


def test_stop_start_and_stopping_a_stopped_instance_succeeds(moto_ec2: str) -> None:
    [iid] = launch()
    provider = AwsProvider({})
    stopped = provider.stop_instance(iid)
    assert isinstance(stopped, Instance) and stopped.state in (InstanceState.STOPPING, InstanceState.STOPPED)
    assert states([iid]) == {iid: "stopped"}
    provider.stop_instance(iid)  # idempotent
    started = provider.start_instance(iid)
    assert started.state in (InstanceState.PENDING, InstanceState.RUNNING)
    assert states([iid]) == {iid: "running"}


def test_dry_run_changes_nothing_and_checks_existence(moto_ec2: str) -> None:
    [iid] = launch()
    provider = AwsProvider({})
    result = provider.stop_instances([iid, "i-0000000000000dead"], dry_run=True)
    assert isinstance(result[iid], Instance) and result[iid].state is InstanceState.RUNNING
    assert isinstance(result["i-0000000000000dead"], InstanceNotFound)
    assert states([iid]) == {iid: "running"}


def test_hibernate_is_sent_to_ec2(moto_ec2: str) -> None:
    [iid] = launch()
    provider = AwsProvider({})
    sent = throttle(provider, "StopInstances", times=0)
    provider.stop_instance(iid, hibernate=True)
    assert "Hibernate=true" in sent[0]
    provider.start_instance(iid)
    provider.stop_instance(iid)
    assert "Hibernate" not in sent[1]


def test_one_bad_id_among_a_hundred_never_aborts_the_rest(moto_ec2: str) -> None:
    good = launch(99)
    bad = "i-0000000000000dead"
    provider = AwsProvider({"batch_size": "40"})
    result = provider.stop_instances([*good[:50], bad, *good[50:]])
    assert isinstance(result[bad], InstanceNotFound)
    assert all(isinstance(result[i], Instance) for i in good)
    assert set(states(good).values()) == {"stopped"}


def test_stop_protection_is_permission_denied_and_others_still_stop(moto_ec2: str) -> None:
    ids = launch(5)
    boto3.client("ec2").modify_instance_attribute(InstanceId=ids[2], DisableApiStop={"Value": True})
    result = AwsProvider({}).stop_instances(ids)
    assert isinstance(result[ids[2]], PermissionDenied)
    assert result[ids[2]].cloud_code == "OperationNotPermitted"
    others = [i for i in ids if i != ids[2]]
    assert set(states(others).values()) == {"stopped"}
    assert states([ids[2]]) == {ids[2]: "running"}


def test_batches_are_chunked(moto_ec2: str) -> None:
    ids = launch(25)
    provider = AwsProvider({"batch_size": "10"})
    sent = throttle(provider, "StopInstances", times=0)
    result = provider.stop_instances(ids)
    assert len(sent) == 3 and all(isinstance(v, Instance) for v in result.values())


def test_throttling_is_retried_by_botocore(moto_ec2: str) -> None:
    [iid] = launch()
    provider = AwsProvider({"max_attempts": "3"})
    attempts = throttle(provider, "StopInstances", times=2)
    assert provider.stop_instance(iid).id == iid
    assert len(attempts) == 3


def test_persistent_throttling_becomes_throttled_after_bounded_attempts(moto_ec2: str) -> None:
    ids = launch(2)
    provider = AwsProvider({"max_attempts": "2"})
    attempts = throttle(provider, "StopInstances", times=100)
    result = provider.stop_instances(ids)
    assert all(isinstance(result[i], Throttled) for i in ids)
    assert result[ids[0]].cloud_code == "RequestLimitExceeded"
    assert len(attempts) == 2
    assert set(states(ids).values()) == {"running"}


def test_unknown_option_is_a_configuration_error(moto_ec2: str) -> None:
    with pytest.raises(ConfigurationError, match="regin"):
        AwsProvider({"regin": "eu-west-1"})
    with pytest.raises(ConfigurationError, match="batch_size"):
        AwsProvider({"batch_size": "lots"})
    with pytest.raises(ConfigurationError, match="between 1 and 1000"):
        AwsProvider({"batch_size": "5000"})
    with pytest.raises(ConfigurationError, match="retry_mode"):
        AwsProvider({"retry_mode": "eager"})
    with pytest.raises(ConfigurationError, match="include_terminated"):
        AwsProvider({"include_terminated": "perhaps"})
    adaptive = AwsProvider({"retry_mode": "adaptive", "max_attempts": "7"})
    assert adaptive._ec2.meta.config.retries == {"total_max_attempts": 7, "mode": "adaptive"}


def test_missing_credentials_is_a_configuration_error_with_a_hint(moto_ec2: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="AWS_PROFILE"):
        AwsProvider({})


def test_missing_region_is_a_configuration_error_with_a_hint(moto_ec2: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigurationError, match="region"):
        AwsProvider({})
    assert AwsProvider({"region": "eu-west-1"})._region == "eu-west-1"


def test_profile_option_and_unknown_profile(moto_ec2: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile demo]\nregion = eu-central-1\naws_access_key_id = a\naws_secret_access_key = b\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert AwsProvider({"profile": "demo"})._region == "eu-central-1"
    with pytest.raises(ConfigurationError, match="nope"):
        AwsProvider({"profile": "nope"})


def test_unreachable_endpoint_fails_each_id_cleanly(moto_ec2: str) -> None:
    from conftest import free_port

    provider = AwsProvider({"endpoint_url": f"http://127.0.0.1:{free_port()}", "max_attempts": "1", "connect_timeout": "2"})
    result = provider.stop_instances(["i-0000000000000001"])
    assert "cannot reach" in str(result["i-0000000000000001"])


def test_trimmed_model_keeps_every_shape_its_operations_reach() -> None:
    from botocore.loaders import Loader

    from snoozebot_aws import _model

    full = Loader().load_service_model("ec2", "service-2")
    small = _model.trim(full)
    assert set(small["operations"]) == set(_model.OPERATIONS)
    assert len(small["shapes"]) < len(full["shapes"]) / 4
    for shape in small["shapes"].values():
        assert all(ref in small["shapes"] for ref in _model._shape_refs(shape))


def test_model_cache_is_built_once_reused_and_repaired(moto_ec2: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    [iid] = launch()
    AwsProvider({}).stop_instance(iid)
    [cache] = (tmp_path / "cache" / "snoozebot").glob("aws-ec2-model-*.json")
    built = cache.stat().st_mtime_ns
    provider = AwsProvider({})
    assert cache.stat().st_mtime_ns == built
    assert provider.get_instance_info(iid).state is InstanceState.STOPPED
    assert not hasattr(provider._ec2, "run_instances")  # the client was built from the trimmed model

    cache.write_text("{not json")
    assert AwsProvider({}).start_instance(iid).id == iid
    assert json.loads(cache.read_text())["service-2"]["operations"].keys() >= {"StopInstances"}


# -- docs/aws.md keeps up with the code --------------------------------------------------

def _table(heading: str) -> list[list[str]]:
    return doc_table("aws.md", heading)


def test_docs_list_exactly_the_options() -> None:
    from snoozebot_aws._provider import _OPTIONS

    assert sorted(row[0].strip("`") for row in _table("Options")) == sorted(_OPTIONS)


def test_docs_state_table_is_the_mapping() -> None:
    from snoozebot_aws._convert import STATES

    rows = _table("States")
    assert {ec2.strip("`"): ours.strip("`") for ec2, ours in rows} == {k: v.value for k, v in STATES.items()}


def test_docs_error_table_is_the_mapping() -> None:
    import re

    from botocore.exceptions import ClientError

    from snoozebot_aws._errors import map_error

    for codes, ours in _table("Errors"):
        for code in re.findall(r"`([A-Za-z.]+)`", codes):
            exc = ClientError({"Error": {"Code": code, "Message": "m"}}, "StopInstances")
            assert map_error(exc).code == ours.strip("`"), code


def test_trimmed_endpoints_keep_every_partition_and_region() -> None:
    from botocore.loaders import Loader
    from botocore.regions import EndpointResolver

    from snoozebot_aws import _model

    loader = Loader()
    full = loader.load_data("endpoints")
    small = _model.trim_endpoints(full)
    assert [p["partition"] for p in small["partitions"]] == [p["partition"] for p in full["partitions"]]
    assert all(set(p["services"]) <= {"ec2", "sts", "sso", "sso-oidc", "portal.sso"} for p in small["partitions"])
    partitions = loader.load_data("partitions")
    for region in ("us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"):
        assert EndpointResolver(small, partitions).construct_endpoint("ec2", region) == EndpointResolver(
            full, partitions
        ).construct_endpoint("ec2", region)


def test_custom_aws_data_path_uses_botocores_own_loading(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from snoozebot_aws import _model

    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    session = _model.session_with_models()
    assert type(session.get_component("data_loader")).__name__ == "Loader"
