"""Replies from a plugin are untrusted input: each is checked here, once, before the host uses it.

A worker (or an agent relaying one) answers with JSON; this module turns each
answer into :class:`~snoozebot.sdk.Instance` objects and
:class:`~snoozebot.results.ActionResult` values, or raises
:class:`MalformedReply` naming the plugin and what is wrong. The schema is the
one documented in ``docs/plugin-guide.md`` (Instance fields) and
``docs/architecture.md`` (the wire protocol):

- an Instance is an object whose ``id`` and ``provider`` are non-empty strings,
  ``state`` a string, ``raw_state`` a string, ``name``, ``instance_type``,
  ``region``, ``zone`` strings or null, ``launch_time`` an ISO 8601 time with an
  offset or null, and ``tags`` an object of strings to strings;
- a batch reply is a list holding, for each id asked for, one object
  ``{"id", "instance"}`` or ``{"id", "error": {"code", "message", ...}}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from snoozebot import sdk
from snoozebot.errors import PluginError, provider_error_from_wire
from snoozebot.results import ActionResult, Failure

__all__ = ["MalformedReply", "parse_batch", "parse_instance", "parse_instances"]

_OPTIONAL_TEXT = ("name", "instance_type", "region", "zone")


class MalformedReply(PluginError):
    """A plugin's reply does not have the shape of the protocol (exit 1; REST 502 ``plugin_error``)."""

    def __init__(self, plugin: str, problem: str) -> None:
        super().__init__(f"plugin {plugin!r} sent a malformed reply: {problem}")
        self.plugin = plugin


def _text(doc: dict[str, Any], key: str, plugin: str, *, optional: bool) -> str | None:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise MalformedReply(plugin, f"{key} is {type(value).__name__}, not a string")
    return value


def parse_instance(doc: Any, plugin: str) -> sdk.Instance:
    """The Instance a reply describes; MalformedReply when any field has the wrong type."""
    if not isinstance(doc, dict):
        raise MalformedReply(plugin, f"an instance is {type(doc).__name__}, not an object")
    instance_id = _text(doc, "id", plugin, optional=False)
    provider = _text(doc, "provider", plugin, optional=False)
    if not instance_id or not provider:
        raise MalformedReply(plugin, "an instance has an empty id or provider")
    tags = doc.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise MalformedReply(plugin, f"tags of {instance_id!r} are not an object of strings")
    launch = _text(doc, "launch_time", plugin, optional=True)
    try:
        launch_time = datetime.fromisoformat(launch) if launch else None
    except ValueError:
        raise MalformedReply(plugin, f"launch_time of {instance_id!r} is not ISO 8601: {launch!r}") from None
    if launch_time is not None and launch_time.tzinfo is None:
        raise MalformedReply(plugin, f"launch_time of {instance_id!r} has no time zone")
    name, instance_type, region, zone = (_text(doc, key, plugin, optional=True) for key in _OPTIONAL_TEXT)
    return sdk.Instance(
        id=instance_id,
        provider=provider,
        state=sdk.InstanceState.parse(_text(doc, "state", plugin, optional=False) or ""),
        raw_state=_text(doc, "raw_state", plugin, optional=True) or "",
        name=name,
        instance_type=instance_type,
        region=region,
        zone=zone,
        launch_time=launch_time,
        tags=tags,
    )


def parse_instances(reply: Any, plugin: str) -> list[sdk.Instance]:
    """The instances of a listing reply (a list of Instance objects)."""
    if not isinstance(reply, list):
        raise MalformedReply(plugin, f"a listing is {type(reply).__name__}, not a list")
    return [parse_instance(doc, plugin) for doc in reply]


def parse_batch(reply: Any, instance_ids: Sequence[str], plugin: str) -> list[ActionResult]:
    """One result per id asked for, in that order, from a batched stop or start reply."""
    if not isinstance(reply, list) or not all(isinstance(item, dict) for item in reply):
        raise MalformedReply(plugin, "a batch reply is not a list of objects")
    by_id = {item.get("id"): item for item in reply}
    if set(by_id) != set(instance_ids) or len(reply) != len(instance_ids):
        raise MalformedReply(plugin, "a batch reply does not hold exactly one result per id asked for")
    results = []
    for instance_id in instance_ids:
        item = by_id[instance_id]
        if item.get("error") is not None:
            failure = Failure.of(provider_error_from_wire(item["error"]))
            results.append(ActionResult(instance_id, plugin, failure=failure))
        else:
            results.append(ActionResult(instance_id, plugin, parse_instance(item.get("instance"), plugin)))
    return results
