"""The host-worker wire protocol: a versioned JSON envelope, nothing else.

Every message is one JSON object encoded as UTF-8 and sent with
``Connection.send_bytes``; nothing is ever pickled. The ``type`` field says
what a message is:

``hello``     worker -> host, first message: protocol, provider, plugin_version, api_version,
              requires_plugins, pid, and ``capabilities`` (the optional methods it serves)
``fatal``     worker -> host, instead of ``hello`` when the plugin cannot be loaded
``request``   host -> worker: ``id``, ``method``, ``params``
``response``  worker -> host: ``id`` and either ``result`` or ``error``
``log``       worker -> host: a log record or a line the plugin wrote to stderr
``shutdown``  host -> worker: finish in-flight calls, close the provider, exit

A request's ``method`` is a :class:`Method`; :data:`METHODS` says, for each,
which provider attribute serves it, how its ``params`` become the call's
arguments, what kind of result comes back, and whether it is an optional
*capability* (plugin API 1.1), served only by providers that implement it and
announce it in their ``hello``. Both ends work from that one table.

This module knows messages only; processes are the supervisor's business.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "CAPABILITIES",
    "MAX_MESSAGE_BYTES",
    "METHODS",
    "PROTOCOL_VERSION",
    "Method",
    "MethodSpec",
    "Param",
    "ParamKind",
    "ProtocolError",
    "ResultKind",
    "decode",
    "encode",
    "is_compatible",
]

PROTOCOL_VERSION = "1.0"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""Upper bound of one message; a larger one is refused on both ends."""

Message = dict[str, Any]


class ProtocolError(Exception):
    """A message that is not valid JSON, not an object, too large, or untyped."""


class Method(enum.StrEnum):
    """The request methods; each value is the wire string."""

    PING = "ping"
    LIST_INSTANCES = "list_instances"
    GET_INSTANCE_INFO = "get_instance_info"
    STOP_INSTANCES = "stop_instances"
    START_INSTANCES = "start_instances"
    IDENTIFY_SELF = "identify_self"
    EXPAND_OPTIONS = "expand_options"
    HOURLY_PRICE = "hourly_price"


ResultKind = Literal["ping", "instance", "instances", "batch", "identity", "expansion", "price"]
"""The shape of a result: ``{"ok", "error"}``, one Instance, a list of them, a list of
``{"id", "instance"|"error"}`` in the order of the ids asked for, ``{"provider",
"instance_id", "options"}``, ``{option: [values]}``, or ``{"usd_per_hour", "source",
"detail"}`` (or null)."""

ParamKind = Literal["str", "strs", "bool", "tags"]
"""How a parameter is read: a string, a list of strings, a flag, a ``str -> str`` mapping."""


@dataclass(frozen=True)
class Param:
    """One request parameter and how the worker passes it to the provider."""

    name: str
    kind: ParamKind
    keyword: bool = False
    """Passed by keyword (the SDK's signature makes it keyword-only), else by position."""

    def read(self, params: Mapping[str, Any]) -> Any:
        """The value of this parameter in a request's ``params`` (missing: empty, false)."""
        value = params.get(self.name)
        if self.kind == "str":
            if value is None:
                raise ProtocolError(f"request lacks parameter {self.name!r}")
            return str(value)
        if self.kind == "strs":
            return [str(v) for v in value or ()]
        if self.kind == "bool":
            return bool(value)
        return {str(k): str(v) for k, v in dict(value or {}).items()}


@dataclass(frozen=True)
class MethodSpec:
    """What one method is: the provider attribute, its parameters, its result, and its API."""

    attribute: str | None
    """The ``CloudProvider`` attribute that serves it; None for ``ping`` (the worker answers)."""
    result: ResultKind
    params: tuple[Param, ...] = ()
    capability: bool = False
    """Optional (API 1.1): served only by providers that implement it and announce it."""
    since: str = "1.0"
    """The plugin API that introduced it; a plugin written for an older one never announces it."""
    on_class: bool = False
    """Called on the provider class: it answers before (and without) valid provider options."""

    def arguments(self, params: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """The provider call's positional and keyword arguments, read from ``params``."""
        args = [p.read(params) for p in self.params if not p.keyword]
        kwargs = {p.name: p.read(params) for p in self.params if p.keyword}
        return args, kwargs


_IDS = Param("instance_ids", "strs")
_DRY_RUN = Param("dry_run", "bool", keyword=True)

METHODS: Mapping[Method, MethodSpec] = MappingProxyType(
    {
        Method.PING: MethodSpec(None, "ping"),
        Method.LIST_INSTANCES: MethodSpec("list_instances", "instances", (Param("filters", "tags"),)),
        Method.GET_INSTANCE_INFO: MethodSpec(
            "get_instance_info", "instance", (Param("instance_id", "str"),)
        ),
        Method.STOP_INSTANCES: MethodSpec(
            "stop_instances", "batch", (_IDS, Param("hibernate", "bool", keyword=True), _DRY_RUN)
        ),
        Method.START_INSTANCES: MethodSpec("start_instances", "batch", (_IDS, _DRY_RUN)),
        Method.IDENTIFY_SELF: MethodSpec(
            "identify_self", "identity", capability=True, since="1.1", on_class=True
        ),
        Method.EXPAND_OPTIONS: MethodSpec(
            "expand_options",
            "expansion",
            (Param("options", "tags"),),
            capability=True,
            since="1.1",
            on_class=True,
        ),
        Method.HOURLY_PRICE: MethodSpec(
            "hourly_price",
            "price",
            (Param("instance_type", "str"), Param("region", "str")),
            capability=True,
            since="1.1",
        ),
    }
)
"""Every method of the protocol, used by the worker to dispatch and by the host to call."""

CAPABILITIES: tuple[Method, ...] = tuple(m for m, spec in METHODS.items() if spec.capability)
"""The optional methods, in table order."""


def encode(message: Message) -> bytes:
    """Serialise ``message`` to the bytes sent on the channel."""
    data = json.dumps(message, separators=(",", ":"), default=str).encode()
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return data


def decode(data: bytes) -> Message:
    """Parse bytes received on the channel into a message dictionary."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"undecodable message: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("message is not an object with a 'type'")
    return message


def _major_minor(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def is_compatible(plugin_version: str, host_version: str) -> bool:
    """Same major, and the plugin's minor no newer than the host's."""
    try:
        p_major, p_minor = _major_minor(plugin_version)
        h_major, h_minor = _major_minor(host_version)
    except ValueError:
        return False
    return p_major == h_major and p_minor <= h_minor
