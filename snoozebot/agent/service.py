"""The agent's async facade over the plugin host.

:class:`PluginManager` and :class:`ProviderClient` calls block (a pipe round
trip, a cloud call, a worker start), so every one runs in a bounded thread
pool and concurrent requests never wait for each other. Loads and unloads run
one at a time, and a call checks that its provider is loaded atomically with
respect to unloads, so the loaded set and the live workers agree whatever the
order of concurrent requests. Discovery is cached (it reads
every distribution's metadata) and rescanned on demand, or when an unknown
name is asked for, at most once a second. The persisted loaded set is re-read
at most every half second (a CLI may change it beside the agent) and at once
after the agent's own loads and unloads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from snoozebot import sdk
from snoozebot.agent.errors import ApiError
from snoozebot.agent.metrics import AgentMetrics
from snoozebot.errors import PluginLoadError, PluginNotFound, SnoozebotError, UsageError
from snoozebot.host.client import ProviderClient
from snoozebot.host.discovery import DiscoveredPlugin
from snoozebot.host.manager import LoadReport, PluginManager, PluginStatus
from snoozebot.operations import ActionContext, run_action
from snoozebot.results import Action, ActionResult
from snoozebot.waiting import wait_for

__all__ = ["AgentService", "UnloadResult"]

log = logging.getLogger("snoozebot.agent")

T = TypeVar("T")

_RESCAN_INTERVAL = 1.0
_LOADED_TTL = 0.5


@dataclass(frozen=True)
class UnloadResult:
    """An unloaded plugin's status, and the loaded providers that required it (``force``)."""

    status: PluginStatus
    also_unloaded: list[str]


class _TimedClient(ProviderClient):
    """A ProviderClient (one per request) that reports every worker call's latency and result."""

    def __init__(self, manager: PluginManager, name: str, metrics: AgentMetrics) -> None:
        super().__init__(manager.supervisor(name), timeout=manager.timeout)
        self._metrics = metrics

    def _call(self, method: str, params: Mapping[str, Any]) -> Any:
        started = time.perf_counter()
        result = "ok"
        try:
            reply = super()._call(method, params)
        except (SnoozebotError, sdk.ProviderError) as exc:
            result = exc.code
            raise
        finally:
            self._metrics.observe_rpc(self.name, method, result, time.perf_counter() - started)
        return reply


class AgentService:
    """Plugins and instances for the routes; owns the manager's workers while the agent runs."""

    def __init__(
        self, manager: PluginManager, *, context: ActionContext, metrics: AgentMetrics, threads: int = 64
    ) -> None:
        self.manager = manager
        self.context = context
        self.audit = context.audit
        self.metrics = metrics
        self._limiter = anyio.CapacityLimiter(threads)
        self._installed: dict[str, DiscoveredPlugin] = {}
        self._scanned_at = float("-inf")
        self._changing = asyncio.Lock()
        self._loaded: tuple[float, list[str]] = (float("-inf"), [])
        self._membership = threading.Lock()
        metrics.watch(self.loaded_statuses)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking call in the agent's thread pool."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # -- life cycle -----------------------------------------------------------

    async def start(self) -> None:
        """Open the audit log, discover providers, and load the persisted loaded set, concurrently."""
        # Create the log before requests write to it at once: SQLite's switch of a new
        # file to WAL, raced by several connections, can fail with "database is locked".
        await self.run(self.audit.finish, [])
        await self.rescan()
        names = self.manager.loaded_names()

        async def load_one(name: str) -> None:
            try:
                result = await self._load(name)
            except (ApiError, SnoozebotError, sdk.ProviderError) as exc:
                log.warning("could not load %s at start-up: %s", name, getattr(exc, "message", exc))
                return
            if result.config_error:
                log.warning("%s is loaded but not configured: %s", name, result.config_error)

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(load_one, name)

    async def close(self) -> None:
        """Stop every worker and reap it."""
        await anyio.to_thread.run_sync(self.manager.shutdown)

    # -- plugins ----------------------------------------------------------------

    async def rescan(self) -> list[DiscoveredPlugin]:
        """Scan the entry points now."""
        plugins = await self.run(self.manager.discover)
        self._installed = {p.name: p for p in plugins}
        self._scanned_at = time.monotonic()
        return plugins

    async def find(self, name: str) -> DiscoveredPlugin:
        """The installed provider ``name`` (404 when unknown, after a rate-limited rescan)."""
        plugin = self._installed.get(name)
        if plugin is None and time.monotonic() - self._scanned_at >= _RESCAN_INTERVAL:
            await self.rescan()
            plugin = self._installed.get(name)
        if plugin is None:
            known = ", ".join(sorted(self._installed)) or "none"
            raise PluginNotFound(name, f"no provider named {name!r} is installed (installed: {known})")
        return plugin

    def status(self, plugin: DiscoveredPlugin) -> PluginStatus:
        """One installed provider's status, with its worker's state."""
        return self.manager.status(plugin)

    def loaded_names(self) -> list[str]:
        """The persisted loaded set (cached for ``_LOADED_TTL`` seconds)."""
        read_at, names = self._loaded
        now = time.monotonic()
        if now - read_at >= _LOADED_TTL:
            names = self.manager.loaded_names()
            self._loaded = (now, names)
        return names

    def _forget_loaded(self) -> None:
        self._loaded = (float("-inf"), [])

    def loaded_statuses(self) -> list[PluginStatus]:
        """The loaded providers that are installed, with their workers' state."""
        loaded = set(self.loaded_names())
        installed = sorted(self._installed.items())
        return [self.manager.status(p, loaded) for name, p in installed if name in loaded]

    async def discover(self) -> list[PluginStatus]:
        """Every installed provider, freshly scanned."""
        plugins = await self.rescan()
        loaded = set(self.loaded_names())
        return [self.manager.status(p, loaded) for p in plugins]

    async def load(self, name: str) -> LoadReport:
        """Load ``name`` and the providers it requires; loads and unloads run one at a time."""
        async with self._changing:
            return await self._load(name)

    async def _load(self, name: str) -> LoadReport:
        plugin = await self.find(name)
        try:
            if plugin.error:
                raise PluginLoadError(name, f"provider {name!r} cannot be loaded: {plugin.error}")
            try:
                report = await self.run(self.manager.load_all, name)
            finally:
                self._forget_loaded()
        except (SnoozebotError, sdk.ProviderError):
            self.metrics.plugin_loads.labels(name, "error").inc()
            raise
        for each in report.loaded:
            self.metrics.plugin_loads.labels(each.name, "ok").inc()
        return report

    async def unload(self, name: str, *, force: bool = False) -> UnloadResult:
        """Mark the plugin unloaded and stop its worker (calls in flight answer 503).

        Refused with 409 while loaded providers require it, unless ``force``,
        which unloads them first.
        """
        plugin = await self.find(name)
        async with self._changing:
            unloaded = await self.run(self._unload_and_retire, name, force)
        for each in unloaded:
            self.metrics.plugin_unloads.labels(each).inc()
        return UnloadResult(self.manager.status(plugin), [n for n in unloaded if n != name])

    def _unload_and_retire(self, name: str, force: bool) -> list[str]:
        with self._membership:
            before = {s.name: s for s in self.loaded_statuses()}
            try:
                unloaded = self.manager.unload(name, force=force)
            except UsageError as exc:
                raise ApiError(409, "required_by_others", exc.message, plugin=name) from None
            finally:
                self._forget_loaded()
            for each in unloaded:
                if each in before:
                    self.metrics.retire(before[each])
            return unloaded

    # -- instances --------------------------------------------------------------

    def client(self, name: str) -> ProviderClient:
        """A client of ``name`` whose calls feed the RPC latency histogram."""
        return _TimedClient(self.manager, name, self.metrics)

    def _loaded_client(self, provider: str) -> ProviderClient:
        """The client of a loaded provider, or 409; atomic with respect to unloads."""
        with self._membership:
            if provider not in self.loaded_names():
                raise ApiError(
                    409,
                    "not_loaded",
                    f"provider {provider!r} is installed but not loaded; an admin can POST /api/plugins/load",
                    plugin=provider,
                )
            return self.client(provider)

    async def call(self, provider: str, fn: Callable[[ProviderClient], T]) -> T:
        """``fn(client)`` in the thread pool: 404 when not installed, 409 when not loaded."""
        await self.find(provider)
        return await self.run(lambda: fn(self._loaded_client(provider)))

    async def list_instances(self, provider: str, filters: dict[str, str]) -> list[sdk.Instance]:
        """The provider's instances, filtered by tag/label equality."""

        def listed(client: ProviderClient) -> list[sdk.Instance]:
            found = client.list_instances(filters)
            self.context.seen(found)  # ends the snoozes of instances awake again (docs/savings.md)
            return found

        return await self.call(provider, listed)

    async def instance(self, provider: str, instance_id: str) -> sdk.Instance:
        """One instance as the provider describes it now."""
        return await self.call(provider, lambda client: client.get_instance_info(instance_id))

    async def act(
        self, provider: str, instance_id: str, *, action: Action, actor: str, hibernate: bool, dry_run: bool
    ) -> ActionResult:
        """Stop or start one instance through the audited operation; the actor is the token's name."""

        def call(client: ProviderClient) -> ActionResult:
            [result] = run_action(
                client,
                self.context,
                action=action,
                instance_ids=[instance_id],
                dry_run=dry_run,
                hibernate=hibernate,
                actor=actor,
                source="agent",
            )
            return result

        try:
            result = await self.call(provider, call)
        except (SnoozebotError, sdk.ProviderError):
            self.metrics.instance_actions.labels(provider, action, "error").inc()
            raise
        self.metrics.instance_actions.labels(provider, action, "ok" if result.ok else "error").inc()
        return result

    async def wait_running(self, provider: str, result: ActionResult) -> ActionResult:
        """``result`` with its instance once it runs, polled within the agent's timeout.

        Not running in time (``wait_timeout``) or terminated meanwhile (``wait_failed``)
        is raised: the start itself was made and audited.
        """

        def call(client: ProviderClient) -> ActionResult:
            running = frozenset({sdk.InstanceState.RUNNING})
            waited = wait_for(client.get_instance_info, [result.id], running, timeout=self.manager.timeout)
            value = waited[result.id]
            if isinstance(value, Exception):
                raise value
            return replace(result, instance=value)

        return await self.call(provider, call)
