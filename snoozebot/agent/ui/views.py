"""What the pages show, computed from host facts: pure functions, no I/O.

- :func:`plugin_row`: one provider's line on the plugins page, with the
  status in the UI's words (healthy, restarting, crashed, incompatible, ...);
- :func:`state_counts`: running versus stopped for the overview;
- :class:`InstanceFilter`: the instances page's filter (text, state, tag).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from snoozebot import sdk
from snoozebot.errors import PluginCrashed, PluginIncompatible
from snoozebot.host.manager import PluginStatus
from snoozebot.host.supervisor import RestartPolicy

__all__ = [
    "ACTIONS",
    "BUSY_STATES",
    "InstanceFilter",
    "PluginRow",
    "StateCounts",
    "actions_for",
    "plugin_row",
    "state_counts",
]

BUSY_STATES = frozenset({"pending", "stopping", "suspending"})
"""States an instance passes through while an action runs (the page polls faster)."""

ACTIONS = ("stop", "start")

_STOPPABLE = frozenset({"running", "pending"})
_STARTABLE = frozenset({"stopped", "suspended"})


@dataclass(frozen=True)
class PluginRow:
    """One provider as the plugins page shows it."""

    status: PluginStatus
    display: str
    """``healthy``, ``restarting``, ``crashed``, ``incompatible``, ``failed``, ``idle`` or ``not loaded``."""
    note: str
    problems: tuple[str, ...]


def _display(status: PluginStatus, failure: str | None, limit: int) -> tuple[str, str]:
    if failure == PluginIncompatible.code:
        return "incompatible", "refused at its last load: written for another plugin API"
    if not status.loaded:
        return ("failed", "its last load failed") if failure else ("not loaded", "")
    if status.status == "running":
        return "healthy", f"worker pid {status.pid}"
    if status.status == "crashed" or failure == PluginCrashed.code:
        if status.restarts >= limit:
            return "crashed", f"gave up after {status.restarts} restarts; unload and load it again"
        return "restarting", "its worker died; the next call restarts it"
    if status.last_error or failure:
        return "failed", "its worker could not start"
    return "idle", "the worker starts on the first call"


def plugin_row(
    status: PluginStatus,
    *,
    failure: str | None = None,
    problems: Iterable[str] = (),
    policy: RestartPolicy | None = None,
) -> PluginRow:
    """The row of ``status``; ``failure`` is the error code of its last failed load, if any."""
    limit = (policy or RestartPolicy()).restart_limit
    display, note = _display(status, failure, limit)
    return PluginRow(status, display, note, (*status.problems, *problems))


@dataclass(frozen=True)
class StateCounts:
    """How many instances of a provider are running, stopped, or something else."""

    running: int
    stopped: int
    other: int

    @property
    def total(self) -> int:
        return self.running + self.stopped + self.other


def state_counts(instances: Iterable[sdk.Instance]) -> StateCounts:
    """Running (and pending) versus stopped (and suspended) versus the rest."""
    counts = Counter(i.state.value for i in instances)
    running = counts["running"] + counts["pending"]
    stopped = counts["stopped"] + counts["suspended"]
    return StateCounts(running, stopped, sum(counts.values()) - running - stopped)


def actions_for(instance: sdk.Instance) -> tuple[str, ...]:
    """The buttons an operator gets for ``instance``: never any for ``unknown`` or ``terminated``."""
    state = instance.state.value
    if state in _STOPPABLE:
        return ("stop",)
    if state in _STARTABLE:
        return ("start",)
    return ()


@dataclass(frozen=True)
class InstanceFilter:
    """The instances page's filter: free text, a state, and one tag the cloud filters on."""

    text: str = ""
    state: str = ""
    tag: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> InstanceFilter:
        return cls(
            text=query.get("q", "").strip()[:200],
            state=query.get("state", "").strip()[:20],
            tag=query.get("tag", "").strip()[:400],
        )

    def cloud_filters(self) -> dict[str, str]:
        """The tag filter for the provider; a ``tag`` without ``=`` matches nothing server-side."""
        key, sep, value = self.tag.partition("=")
        return {key.strip(): value.strip()} if sep and key.strip() else {}

    @property
    def tag_error(self) -> str | None:
        if self.tag and not self.cloud_filters():
            return f"the tag filter must be KEY=VALUE, not {self.tag!r}"
        return None

    def matches(self, instance: sdk.Instance) -> bool:
        if self.state and instance.state.value != self.state:
            return False
        if not self.text:
            return True
        needle = self.text.casefold()
        fields = [instance.id, instance.name or "", instance.instance_type or "", instance.zone or ""]
        fields += [f"{k}={v}" for k, v in instance.tags.items()]
        return any(needle in f.casefold() for f in fields)

    def query(self) -> dict[str, str]:
        """The non-empty parts, as URL query parameters."""
        return {k: v for k, v in (("q", self.text), ("state", self.state), ("tag", self.tag)) if v}
