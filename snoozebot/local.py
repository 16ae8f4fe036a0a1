"""The backend of this machine: plugin workers started here, the audit log in the state directory."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from snoozebot.backend import OnDone
from snoozebot.errors import StateDamaged
from snoozebot.host.client import ProviderClient
from snoozebot.host.manager import LoadReport, PluginManager, PluginStatus
from snoozebot.operations import ActionContext, default_actor, run_action
from snoozebot.results import Action, ActionResult

__all__ = ["LocalBackend"]

_PROGRESS_CHUNK = 100
_CHUNK_THREADS = 8


class LocalBackend:
    """Provider calls answered by workers this process supervises (a :class:`~snoozebot.backend.Backend`).

    ``manager`` stays reachable for the commands that only make sense here
    (requirement checks, install, schedules, idle checks).
    """

    def __init__(self, manager: PluginManager, context: ActionContext) -> None:
        self.manager = manager
        self.context = context

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

    def provider(self, name: str) -> ProviderClient:
        try:
            loaded = name in self.manager.loaded_names()  # loaded ones are known to be installed
        except StateDamaged:  # only a shortcut here: discovery tells instead (`-p` needs no loaded set)
            loaded = False
        if not loaded:
            self.manager.find(name)
        return self.manager.client(name)

    def act(
        self,
        provider: str,
        action: Action,
        instance_ids: list[str],
        *,
        hibernate: bool = False,
        dry_run: bool = False,
        on_done: OnDone | None = None,
        source: str = "cli",
    ) -> list[ActionResult]:
        """Stop or start in id order, audited as the user running the command (from ``source``).

        One call to the provider, which batches and parallelises as its options
        say; when ``on_done`` watches progress, parts of 100 ids are sent
        concurrently instead, so the bar moves.
        """
        client = self.provider(provider)
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
