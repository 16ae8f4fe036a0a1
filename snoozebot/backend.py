"""Where provider calls go: the one interface commands talk to.

A :class:`Backend` answers the ``plugins`` and ``instance`` operations. Two
implementations share no code by inheritance:

- :class:`snoozebot.local.LocalBackend`: this machine's plugin workers, with the
  audit log in the state directory;
- :class:`snoozebot.remote.AgentBackend`: a running agent over HTTP, which
  runs the workers and writes the audit log itself.

Commands never ask which one they hold (see ``docs/architecture.md``).
A call may name a fleet scope (one account and region of a target,
:class:`~snoozebot.fleet.Scope`); without one it covers the provider's own
options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # an interface: importing it costs nothing at run time
    from snoozebot import sdk
    from snoozebot.fleet import Scope
    from snoozebot.host.manager import LoadReport, PluginStatus
    from snoozebot.results import Action, ActionResult

__all__ = ["Backend", "OnDone", "ProviderCalls"]

OnDone = Callable[[int], None]
"""Told how many more instances are finished (drives a progress bar)."""


class ProviderCalls(Protocol):
    """The read operations of one provider, wherever its worker runs."""

    name: str

    def list_instances(self, filters: Mapping[str, str] | None = None) -> list[sdk.Instance]:
        """Instances whose tags/labels equal every ``filters`` item."""
        ...

    def get_instance_info(self, instance_id: str) -> sdk.Instance:
        """One instance as the provider describes it now."""
        ...


class Backend(Protocol):
    """The operations of the ``plugins`` and ``instance`` commands."""

    def statuses(self, *, fresh: bool = False) -> list[PluginStatus]:
        """Every installed provider (``fresh``: scanned again now)."""
        ...

    def describe(self, name: str) -> PluginStatus:
        """One installed provider, its worker started to learn what the plugin declares."""
        ...

    def loaded_names(self) -> list[str]:
        """The loaded set."""
        ...

    def load(self, name: str) -> LoadReport:
        """Check requirements, start, health-check and mark loaded ``name`` and what it requires."""
        ...

    def unload(self, name: str, *, force: bool = False) -> list[str]:
        """Mark ``name`` unloaded and stop its worker; the names unloaded, in order."""
        ...

    def provider(self, name: str, *, scope: Scope | None = None) -> ProviderCalls:
        """The read operations of provider ``name`` (in ``scope``)."""
        ...

    def expand_options(self, provider: str, options: Mapping[str, str]) -> dict[str, list[str]]:
        """The values ``provider``'s own words in a target's options stand for (``{}`` if none)."""
        ...

    def act(
        self,
        provider: str,
        action: Action,
        instance_ids: list[str],
        *,
        hibernate: bool = False,
        dry_run: bool = False,
        on_done: OnDone | None = None,
        scope: Scope | None = None,
    ) -> list[ActionResult]:
        """Stop or start ``instance_ids`` (in ``scope``), audited; one result per id, in order."""
        ...

    def close(self) -> None:
        """Stop what this backend started (workers, connections)."""
        ...
