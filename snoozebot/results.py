"""What happened to one instance in a stop or start: one value from the worker's reply to the user.

:class:`ActionResult` is built once, where a reply (from a worker or from the
agent) enters the host, and is what the CLI's ``--json``, the REST answer, the
web UI and the audit row are made from. Its :class:`Failure` keeps the cloud's
own error code all the way through. The JSON shape is the one documented in
``docs/json.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from snoozebot import sdk

__all__ = ["Action", "ActionResult", "Failure"]

Action = Literal["stop", "start"]


@dataclass(frozen=True)
class Failure:
    """Why one instance's stop or start failed: a snoozebot error code, a message, the cloud's code."""

    code: str
    message: str
    cloud_code: str | None = None

    @classmethod
    def of(cls, exc: BaseException) -> Failure:
        """The failure an exception stands for (any snoozebot or provider error)."""
        return cls(str(getattr(exc, "code", "error")), str(exc), getattr(exc, "cloud_code", None))

    def to_dict(self) -> dict[str, str | None]:
        """``{"code", "message"}``, the shape of the CLI's JSON output."""
        return {"code": self.code, "message": self.message}

    def to_wire(self) -> dict[str, str | None]:
        """``{"code", "message", "cloud_code"}``, as workers and the agent send errors."""
        return {**self.to_dict(), "cloud_code": self.cloud_code}


@dataclass(frozen=True)
class ActionResult:
    """One instance's result: the instance right after the request, or why it failed."""

    id: str
    provider: str
    instance: sdk.Instance | None = None
    failure: Failure | None = None
    target: str | None = None
    scope: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def state(self) -> str | None:
        """The instance's state after the request (None when it failed)."""
        return self.instance.state.value if self.instance is not None else None

    @classmethod
    def failed(cls, instance_id: str, provider: str, exc: BaseException) -> ActionResult:
        return cls(instance_id, provider, failure=Failure.of(exc))

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "provider", "ok", "state", "error", "target", "scope"}``: the CLI's ``--json`` shape."""
        return {
            "id": self.id,
            "provider": self.provider,
            "ok": self.ok,
            "state": self.state,
            "error": self.failure.to_dict() if self.failure is not None else None,
            "target": self.target,
            "scope": dict(self.scope),
        }
