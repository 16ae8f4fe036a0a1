"""The backend of this machine: plugin workers started here, the audit log in the state directory."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from snoozebot.errors import StateDamaged
from snoozebot.host.manager import LoadReport, PluginManager, PluginStatus

if TYPE_CHECKING:  # the acting and calling machinery is imported by the commands that use it
    from snoozebot.backend import OnDone
    from snoozebot.fleet import Scope
    from snoozebot.host.client import ProviderClient
    from snoozebot.operations import ActionContext
    from snoozebot.results import Action, ActionResult

__all__ = ["LocalBackend"]

_PROGRESS_CHUNK = 100
_CHUNK_THREADS = 8


class LocalBackend:
    """Provider calls answered by workers this process supervises (a :class:`~snoozebot.backend.Backend`).

    ``manager`` stays reachable for the commands that only make sense here
    (requirement checks, install, schedules, idle checks).
    """

    def __init__(self, manager: PluginManager, state_directory: Path, *, lock_timeout: float) -> None:
        self.manager = manager
        self._state_directory = state_directory
        self._lock_timeout = lock_timeout
        self._installed: set[str] = set()
        """Providers already known to be installed: a fleet's scopes ask once, not once each."""

    @functools.cached_property
    def context(self) -> ActionContext:
        """The audit log and per-instance locks every stop and start here goes through.

        Built on first use: `plugins list` imports none of it (about 30 ms of its
        start-up, benchmarks/bench_host.py).
        """
        from snoozebot.operations import ActionContext
        from snoozebot.store import open_store

        store = open_store(self._state_directory, self.manager.config, lock_timeout=self._lock_timeout)
        return ActionContext.in_directory(self._state_directory, lock_timeout=self._lock_timeout, store=store)

    def statuses(self, *, fresh: bool = False) -> list[PluginStatus]:
        return self.manager.statuses(fresh=fresh)

    def describe(self, name: str) -> PluginStatus:
        plugin = self.manager.find(name)
        last_error = plugin.error
        if last_error is None:
            try:
                setup_error = self.manager.client(name).ping()
                last_error = setup_error.message if setup_error else None
            except Exception as exc:  # shown, not raised: describing reports problems
                last_error = str(exc)
        status = self.manager.status(plugin)
        return replace(status, last_error=last_error or status.last_error)

    def loaded_names(self) -> list[str]:
        return self.manager.loaded_names()

    def load(self, name: str) -> LoadReport:
        return self.manager.load_all(name)

    def unload(self, name: str, *, force: bool = False) -> list[str]:
        self.manager.find(name)
        return self.manager.unload(name, force=force)

    def provider(self, name: str, *, scope: Scope | None = None) -> ProviderClient:
        if name not in self._installed:
            try:
                loaded = name in self.manager.loaded_names()  # loaded ones are known to be installed
            except StateDamaged:  # only a shortcut here: discovery tells instead (`-p` needs no loaded set)
                loaded = False
            if not loaded:
                self.manager.find(name)
            self._installed.add(name)
        fleet = scope is not None and scope.target is not None
        return self.manager.client(name, scope=scope.options if fleet and scope else None)

    def expand_options(self, provider: str, options: Mapping[str, str]) -> dict[str, list[str]]:
        from snoozebot.host.protocol import Method

        client = self.provider(provider)
        return client.expand_options(options) if client.offers(Method.EXPAND_OPTIONS) else {}

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
        source: str = "cli",
    ) -> list[ActionResult]:
        """Stop or start in id order, audited as the user running the command (from ``source``).

        One call to the provider, which batches and parallelises as its options
        say; when ``on_done`` watches progress, parts of 100 ids are sent
        concurrently instead, so the bar moves.
        """
        from snoozebot.operations import default_actor, run_action

        client = self.provider(provider, scope=scope)
        actor = default_actor()
        size = _PROGRESS_CHUNK if on_done is not None else max(1, len(instance_ids))
        chunks = [instance_ids[i : i + size] for i in range(0, len(instance_ids), size)]

        def one(chunk: list[str]) -> list[ActionResult]:
            results = run_action(
                client,
                self.context,
                action=action,
                instance_ids=chunk,
                dry_run=dry_run,
                hibernate=hibernate,
                actor=actor,
                where=scope,
                source=source,
            )
            if on_done is not None:
                on_done(len(chunk))
            return results

        if len(chunks) <= 1:
            return one(chunks[0]) if chunks else []
        pool = ThreadPoolExecutor(max_workers=min(_CHUNK_THREADS, len(chunks)))
        try:
            futures: list[Future[list[ActionResult]]] = [pool.submit(one, c) for c in chunks]
            return [r for f in futures for r in f.result()]
        finally:
            # On Ctrl-C do not wait for calls in flight: close() stops the worker.
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.manager.shutdown()
