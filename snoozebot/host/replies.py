"""Replies from a plugin are untrusted input: each is checked here, once, before the host uses it.

A worker (or an agent relaying one) answers with JSON; this module turns each
answer into :class:`~snoozebot.sdk.Instance` objects and
:class:`~snoozebot.results.ActionResult` values, or raises
:class:`MalformedReply` naming the plugin and what is wrong. The schema is the
one documented in ``docs/plugin-guide.md`` (Instance fields) and
``docs/architecture.md`` (the wire protocol):

- an Instance is an object whose ``id`` and ``provider`` are non-empty strings,
  ``state`` a string, ``raw_state`` a string, ``name``, ``instance_type``,
  ``region``, ``zone``, ``public_ip``, ``private_ip`` strings or null,
  ``launch_time`` an ISO 8601 time with an offset or null, and ``tags`` an
  object of strings to strings;
- a batch reply is a list holding, for each id asked for, one object
  ``{"id", "instance"}`` or ``{"id", "error": {"code", "message", ...}}``;
- an identity (``identify_self``) is ``{"provider", "instance_id", "options"}``: the
  plugin's own name, a non-empty id, and an object of strings to strings;
- a price (``hourly_price``) is null or ``{"usd_per_hour", "source", "detail"}``: a
  finite number >= 0, ``lookup`` or ``table``, and a string.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from snoozebot import sdk
from snoozebot.errors import PluginError, provider_error_from_wire
from snoozebot.results import ActionResult, Failure

__all__ = [
    "MalformedReply",
    "parse_batch",
    "parse_identity",
    "parse_instance",
    "parse_instances",
    "parse_price",
]

_NULLABLE_TEXT = (
    "raw_state", "launch_time", "name", "instance_type", "region", "zone", "public_ip", "private_ip",
)


class MalformedReply(PluginError):
    """A plugin's reply does not have the shape of the protocol (exit 1; REST 502 ``plugin_error``)."""

    def __init__(self, plugin: str, problem: str) -> None:
        super().__init__(f"plugin {plugin!r} sent a malformed reply: {problem}")
        self.plugin = plugin


def _fits(doc: Any) -> bool:
    """The whole check of a well-formed instance, in one pass (the common case, kept cheap)."""
    if type(doc) is not dict:
        return False
    get = doc.get
    instance_id, provider = get("id"), get("provider")
    if type(instance_id) is not str or type(provider) is not str or not instance_id or not provider:
        return False
    if type(get("state")) is not str:
        return False
    for key in _NULLABLE_TEXT:
        value = get(key)
        if value is not None and type(value) is not str:
            return False
    tags = get("tags")
    if tags is None:
        return True
    if type(tags) is not dict:
        return False
    return all(type(value) is str for value in tags.values())  # JSON object keys are strings


def _problem(doc: Any) -> str:
    """What is wrong with an instance that did not fit, in words."""
    if not isinstance(doc, dict):
        return f"an instance is {type(doc).__name__}, not an object"
    for key in ("id", "provider", "state"):
        if not isinstance(doc.get(key), str):
            return f"{key} is {type(doc.get(key)).__name__}, not a string"
    if not doc["id"] or not doc["provider"]:
        return "an instance has an empty id or provider"
    for key in _NULLABLE_TEXT:
        if doc.get(key) is not None and not isinstance(doc[key], str):
            return f"{key} of {doc['id']!r} is {type(doc[key]).__name__}, not a string"
    return f"tags of {doc['id']!r} are not an object of strings"


def parse_instance(doc: Any, plugin: str) -> sdk.Instance:
    """The Instance a reply describes; MalformedReply when any field has the wrong type."""
    if not _fits(doc):
        raise MalformedReply(plugin, _problem(doc))
    launch = doc.get("launch_time")
    try:
        launch_time = datetime.fromisoformat(launch) if launch else None
    except ValueError:
        raise MalformedReply(plugin, f"launch_time of {doc['id']!r} is not ISO 8601: {launch!r}") from None
    if launch_time is not None and launch_time.tzinfo is None:
        raise MalformedReply(plugin, f"launch_time of {doc['id']!r} has no time zone")
    get = doc.get
    return sdk.Instance(
        id=doc["id"],
        provider=doc["provider"],
        state=sdk.InstanceState.parse(doc["state"]),
        raw_state=get("raw_state") or "",
        name=get("name"),
        instance_type=get("instance_type"),
        region=get("region"),
        zone=get("zone"),
        launch_time=launch_time,
        tags=get("tags") or {},
        public_ip=get("public_ip"),
        private_ip=get("private_ip"),
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


def parse_expansion(reply: Any, plugin: str) -> dict[str, list[str]]:
    """The values an ``expand_options`` reply gives: option names to lists of strings."""
    if type(reply) is not dict or not all(
        type(values) is list and all(type(v) is str for v in values) for values in reply.values()
    ):
        raise MalformedReply(plugin, "an option expansion is not an object of string lists")
    return reply


def parse_identity(reply: Any, plugin: str) -> sdk.Identity:
    """The Identity in an ``identify_self`` reply: this plugin's, with string options."""
    if type(reply) is not dict:
        raise MalformedReply(plugin, f"identity is {type(reply).__name__}, not an object")
    instance_id, options = reply.get("instance_id"), reply.get("options") or {}
    if reply.get("provider") != plugin:
        raise MalformedReply(plugin, f"identity names provider {reply.get('provider')!r}")
    if type(instance_id) is not str or not instance_id:
        raise MalformedReply(plugin, "identity has no instance_id string")
    if type(options) is not dict or not all(type(v) is str for v in options.values()):
        raise MalformedReply(plugin, "identity options are not an object of strings")
    return sdk.Identity(plugin, instance_id, dict(options))


_PRICE_SOURCES = frozenset({"lookup", "table"})


def parse_price(reply: Any, plugin: str) -> sdk.HourlyPrice | None:
    """The HourlyPrice in an ``hourly_price`` reply (null: the provider knows no price)."""
    if reply is None:
        return None
    if type(reply) is not dict:
        raise MalformedReply(plugin, f"price is {type(reply).__name__}, not an object or null")
    usd, source, detail = reply.get("usd_per_hour"), reply.get("source"), reply.get("detail")
    if not (isinstance(usd, int | float) and type(usd) is not bool and math.isfinite(usd) and usd >= 0):
        raise MalformedReply(plugin, "price has no usd_per_hour number >= 0")
    if source not in _PRICE_SOURCES or type(detail) is not str:
        raise MalformedReply(plugin, "price needs a source (lookup or table) and a detail string")
    return sdk.HourlyPrice(float(usd), str(source), detail)
