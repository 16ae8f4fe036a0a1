"""The plugin author's API: exported names, Instance JSON, default batch methods."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from snoozebot import sdk

EXPORTED = [
    "API_VERSION",
    "BatchResult",
    "CloudProvider",
    "ConfigurationError",
    "HourlyPrice",
    "Identity",
    "Instance",
    "InstanceNotFound",
    "InstanceState",
    "InvalidInstanceState",
    "PermissionDenied",
    "ProviderError",
    "Throttled",
]
"""The public surface of ``snoozebot.sdk``, exactly: the one list to change with the contract."""


def _defined_at_top_level(tree: ast.Module) -> set[str]:
    """Names that ``snoozebot/sdk.py`` itself defines (classes, functions, assignments), not imports."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)

    visit(tree.body)
    return names - {"__all__"}


def test_exports_are_exactly_the_contract() -> None:
    assert len(sdk.__all__) == len(set(sdk.__all__)), "a name is listed twice in sdk.__all__"
    assert sorted(sdk.__all__) == sorted(EXPORTED)


def test_every_exported_name_exists_and_is_public() -> None:
    for name in sdk.__all__:
        assert not name.startswith("_"), f"sdk.__all__ exports the private name {name!r}"
        assert hasattr(sdk, name), f"sdk.__all__ names {name!r}, which sdk does not define"


def test_every_public_name_defined_in_the_module_is_exported() -> None:
    assert sdk.__file__
    defined = _defined_at_top_level(ast.parse(Path(sdk.__file__).read_text()))
    public = {name for name in defined if not name.startswith("_")}
    assert public - set(sdk.__all__) == set(), "public names of sdk.py missing from __all__ (or make them _private)"
    assert defined >= {"CloudProvider", "_DEFAULT_BATCH_CONCURRENCY"}  # the scan sees classes and constants


def test_api_version() -> None:
    assert sdk.API_VERSION == "1.1"


def test_identity_json_round_trip() -> None:
    me = sdk.Identity("acme", "vm-7", {"region": "north"})
    assert me.to_dict() == {"provider": "acme", "instance_id": "vm-7", "options": {"region": "north"}}
    assert sdk.Identity.from_dict(me.to_dict()) == me
    with pytest.raises(TypeError):
        sdk.Identity.from_dict({"provider": "acme", "instance_id": "vm-7", "options": ["region"]})


def test_optional_methods_are_documented_but_not_implemented_by_the_base() -> None:
    with pytest.raises(NotImplementedError):
        sdk.CloudProvider.identify_self()
    assert "identify_self" in (sdk.__doc__ or "")


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
