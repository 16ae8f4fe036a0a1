"""The wire protocol: JSON envelope, size bound, version compatibility."""

from __future__ import annotations

import pytest

from snoozebot.host import protocol


def test_round_trip_keeps_the_message() -> None:
    message = {"type": "request", "id": 7, "method": "ping", "params": {"a": [1, "é"]}}
    assert protocol.decode(protocol.encode(message)) == message


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'{"no_type": 1}', b'{"type": 3}', b"\xff\xfe"])
def test_decode_refuses_what_is_not_a_typed_object(data: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(data)


def test_size_bound_is_enforced_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "MAX_MESSAGE_BYTES", 64)
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.encode({"type": "log", "message": "x" * 100})
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.decode(b'{"type": "log", "message": "' + b"x" * 100 + b'"}')


@pytest.mark.parametrize(
    ("plugin", "host", "ok"),
    [
        ("1.0", "1.0", True),
        ("1.0", "1.3", True),
        ("1.3", "1.3", True),
        ("1.4", "1.3", False),
        ("2.0", "1.0", False),
        ("0.9", "1.0", False),
        ("1", "1.0", True),
        ("one", "1.0", False),
    ],
)
def test_compatibility_is_same_major_and_plugin_minor_not_newer(plugin: str, host: str, ok: bool) -> None:
    assert protocol.is_compatible(plugin, host) is ok
