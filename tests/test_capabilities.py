"""Plugin API 1.1: one method table, optional methods announced in the hello, never called unannounced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.errors import CapabilityMissing, UsageError
from snoozebot.host import protocol, worker
from snoozebot.host.manager import PluginManager
from snoozebot.host.protocol import METHODS, Method


@pytest.fixture
def manager(isolated_home: Path) -> Iterator[PluginManager]:
    mgr = PluginManager(config=Config(), state_directory=isolated_home, timeout=10.0)
    try:
        yield mgr
    finally:
        mgr.shutdown()


# -- the table ------------------------------------------------------------------


def test_wire_names_are_unchanged_and_every_method_is_in_the_table() -> None:
    assert [m.value for m in Method] == [
        "ping", "list_instances", "get_instance_info", "stop_instances", "start_instances", "identify_self",
        "expand_options", "hourly_price",
    ]
    assert Method.STOP_INSTANCES == "stop_instances"
    assert set(METHODS) == set(Method)
    assert protocol.CAPABILITIES == (Method.IDENTIFY_SELF, Method.EXPAND_OPTIONS, Method.HOURLY_PRICE)
    assert METHODS[Method.IDENTIFY_SELF].since == "1.1"


def test_every_provider_attribute_of_the_table_is_in_the_sdk() -> None:
    for method, spec in METHODS.items():
        if spec.attribute is not None:
            assert callable(getattr(sdk.CloudProvider, spec.attribute)), method


def test_arguments_are_read_from_params_by_the_table() -> None:
    spec = METHODS[Method.STOP_INSTANCES]
    args, kwargs = spec.arguments({"instance_ids": ["a", 2], "hibernate": 1})
    assert (args, kwargs) == ([["a", "2"]], {"hibernate": True, "dry_run": False})
    assert METHODS[Method.LIST_INSTANCES].arguments({}) == ([{}], {})
    with pytest.raises(protocol.ProtocolError, match="instance_id"):
        METHODS[Method.GET_INSTANCE_INFO].arguments({})


# -- what a provider announces ----------------------------------------------------


class _Knows(sdk.CloudProvider):
    name = "knows"
    api_version = "1.1"

    @classmethod
    def identify_self(cls) -> sdk.Identity:
        return sdk.Identity("knows", "vm-1", {"zone": "z"})


class _KnowsButOld(_Knows):
    name = "old"
    api_version = "1.0"


class _Plain(sdk.CloudProvider):
    name = "plain"
    api_version = "1.1"


def test_a_capability_is_announced_only_when_overridden_by_a_plugin_written_for_its_api() -> None:
    assert worker.capabilities_of(_Knows) == [Method.IDENTIFY_SELF]
    assert worker.capabilities_of(_Plain) == []
    assert worker.capabilities_of(_KnowsButOld) == []  # a 1.0 plugin never announces one


def test_the_worker_refuses_an_unannounced_capability_and_serves_an_announced_one() -> None:
    plain = worker._Dispatcher("plain", _Plain, {}, capabilities=[])
    with pytest.raises(sdk.ProviderError, match="does not offer identify_self"):
        plain.dispatch("identify_self", {})
    knows = worker._Dispatcher("knows", _Knows, {}, capabilities=[Method.IDENTIFY_SELF])
    assert knows.dispatch("identify_self", {}) == {
        "provider": "knows", "instance_id": "vm-1", "options": {"zone": "z"},
    }
    with pytest.raises(ValueError, match="unknown method 'reboot'"):
        knows.dispatch("reboot", {})


def test_identify_self_is_asked_of_the_class_even_when_the_options_are_not_valid() -> None:
    class Picky(_Knows):
        name = "knows"

        def __init__(self, config: dict[str, str]) -> None:
            raise sdk.ConfigurationError("no region configured")

    dispatcher = worker._Dispatcher("knows", Picky, {}, capabilities=[Method.IDENTIFY_SELF])
    assert dispatcher.dispatch("ping", {})["ok"] is False
    assert dispatcher.dispatch("identify_self", {})["instance_id"] == "vm-1"


# -- real workers ---------------------------------------------------------------------


def test_a_1_0_plugin_loads_works_and_announces_nothing(manager: PluginManager) -> None:
    status = manager.load_all("memory").status
    assert (status.api_version, status.capabilities) == ("1.0", ())
    assert status.to_dict()["capabilities"] == []
    client = manager.client("memory")
    assert [i.id for i in client.list_instances()] == ["mem-0", "mem-1", "mem-2"]
    assert client.offers(Method.IDENTIFY_SELF) is False


def test_the_host_never_sends_an_unannounced_capability(manager: PluginManager) -> None:
    with pytest.raises(CapabilityMissing) as info:
        manager.client("memory").identify_self()
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2
    assert (info.value.plugin, info.value.capability) == ("memory", "identify_self")
    assert str(info.value) == "provider 'memory' does not offer identify_self: its plugin does not implement it"
    assert manager.client("memory").list_instances()  # the worker is untouched


def test_plugins_info_shows_api_1_1_and_the_capabilities_of_a_built_in_provider() -> None:
    res = run_cli("plugins", "info", "aws", "--json")
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert doc["api_version"] == "1.1" and "identify_self" in doc["capabilities"]
    text = run_cli("plugins", "info", "memory")
    assert text.returncode == 0, text.stderr
    [row] = [line for line in text.stdout.splitlines() if line.startswith("capabilities")]
    assert row.split() == ["capabilities"]
    memory = run_cli("plugins", "info", "memory", "--json").json()
    assert (memory["api_version"], memory["capabilities"]) == ("1.0", [])


@pytest.mark.parametrize("name", ["aws", "gcp", "azure"])
def test_every_built_in_provider_is_written_for_api_1_1_and_identifies_itself(name: str) -> None:
    import importlib.metadata

    [ep] = importlib.metadata.entry_points(group="snoozebot.providers", name=name)
    cls = ep.load()
    assert cls.api_version == sdk.API_VERSION == "1.1"
    assert Method.IDENTIFY_SELF in worker.capabilities_of(cls)
