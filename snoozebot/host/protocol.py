"""The host-worker wire protocol: a versioned JSON envelope, nothing else.

Every message is one JSON object encoded as UTF-8 and sent with
``Connection.send_bytes``; nothing is ever pickled. The ``type`` field says
what a message is:

``hello``     worker -> host, first message: protocol, provider, plugin_version, api_version
``fatal``     worker -> host, instead of ``hello`` when the plugin cannot be loaded
``request``   host -> worker: ``id``, ``method``, ``params``
``response``  worker -> host: ``id`` and either ``result`` or ``error``
``log``       worker -> host: a log record or a line the plugin wrote to stderr
``shutdown``  host -> worker: finish in-flight calls, close the provider, exit

This module knows messages only; processes are the supervisor's business.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "ProtocolError",
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
