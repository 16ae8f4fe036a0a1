"""The plugin author's API: exported names, Instance JSON, default batch methods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from snoozebot import sdk


def test_public_names_are_exactly_the_contract() -> None:
    assert sorted(sdk.__all__) == sorted(
        [
            "API_VERSION",
            "BatchResult",
            "CloudProvider",
            "ConfigurationError",
            "Instance",
            "InstanceNotFound",
            "InstanceState",
            "InvalidInstanceState",
            "PermissionDenied",
            "ProviderError",
            "Throttled",
        ]
    )
    assert sdk.API_VERSION == "1.0"
    for name in sdk.__all__:
        assert hasattr(sdk, name)


def test_state_values_and_unknown_fallback() -> None:
    assert [s.value for s in sdk.InstanceState] == [
        "pending", "running", "stopping", "stopped", "suspending", "suspended", "terminated", "unknown",
    ]
    assert sdk.InstanceState.parse("shutting-down") is sdk.InstanceState.UNKNOWN


def test_error_classes_share_one_base() -> None:
    for cls in (sdk.InstanceNotFound, sdk.InvalidInstanceState, sdk.PermissionDenied, sdk.Throttled, sdk.ConfigurationError):
        assert issubclass(cls, sdk.ProviderError)
    err = sdk.PermissionDenied("no", cloud_code="UnauthorizedOperation")
    assert (err.code, err.message, err.cloud_code) == ("permission_denied", "no", "UnauthorizedOperation")


def test_instance_json_round_trip() -> None:
    inst = sdk.Instance(
        id="i-1", provider="aws", state=sdk.InstanceState.RUNNING, raw_state="running", name="web",
        instance_type="t3.micro", region="eu-west-1", zone="eu-west-1a",
        launch_time=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tags={"team": "ml"},
    )
    doc = inst.to_dict()
    assert doc["state"] == "running"
    assert doc["launch_time"] == "2026-03-01T12:00:00+00:00"
    assert sdk.Instance.from_dict(doc) == inst


def test_naive_launch_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sdk.Instance(id="i", provider="p", state=sdk.InstanceState.RUNNING, launch_time=datetime(2026, 1, 1))


class _Toy(sdk.CloudProvider):
    name = "toy"

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> sdk.Instance:
        if instance_id == "bad":
            raise sdk.InstanceNotFound("no such instance")
        if instance_id == "bug":
            raise RuntimeError("boom")
        return sdk.Instance(id=instance_id, provider="toy", state=sdk.InstanceState.STOPPING)


def test_default_batch_reports_each_id_and_never_aborts() -> None:
    result = _Toy({}).stop_instances(["a", "bad", "bug", "b", "a"])
    assert list(result) == ["a", "bad", "bug", "b"]
    assert isinstance(result["a"], sdk.Instance)
    assert isinstance(result["bad"], sdk.InstanceNotFound)
    assert isinstance(result["bug"], RuntimeError)
    assert isinstance(result["b"], sdk.Instance)
