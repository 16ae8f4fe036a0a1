"""The plugin manager: discovery, the loaded set, and one supervisor per provider."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snoozebot.config import Config
from snoozebot.errors import PluginNotFound
from snoozebot.host.client import ProviderClient
from snoozebot.host.discovery import DiscoveredPlugin, discover
from snoozebot.host.process import WorkerProcess
from snoozebot.host.supervisor import RestartPolicy, Supervisor
from snoozebot.state import LoadedSet

__all__ = ["DEFAULT_TIMEOUT", "PluginManager", "PluginStatus"]

DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class PluginStatus:
    """A provider as ``plugins list`` and ``plugins info`` show it."""

    name: str
    distribution: str | None
    version: str | None
    target: str
    loaded: bool
    error: str | None
    status: str = "not started"
    plugin_version: str | None = None
    api_version: str | None = None
    pid: int | None = None
    restarts: int = 0
    crashes: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.target,
            "loaded": self.loaded,
            "error": self.error,
            "status": self.status,
            "plugin_version": self.plugin_version,
            "api_version": self.api_version,
            "pid": self.pid,
            "restarts": self.restarts,
            "crashes": self.crashes,
            "last_error": self.last_error,
        }


class PluginManager:
    """Finds providers, keeps the loaded set, and owns their workers."""

    def __init__(
        self,
        *,
        config: Config,
        state_directory: Path,
        timeout: float = DEFAULT_TIMEOUT,
        option_overrides: Mapping[str, str] | None = None,
        policy: RestartPolicy | None = None,
        start_method: str | None = None,
        prestarted: Mapping[str, WorkerProcess] | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.loaded_set = LoadedSet(state_directory)
        self._overrides = dict(option_overrides or {})
        self._policy = policy
        self._start_method = start_method
        self._prestarted = dict(prestarted or {})
        self._supervisors: dict[str, Supervisor] = {}
        self._lock = threading.Lock()

    # -- discovery and the loaded set ----------------------------------------

    def discover(self) -> list[DiscoveredPlugin]:
        return discover()

    def find(self, name: str) -> DiscoveredPlugin:
        """The installed provider ``name``; PluginNotFound names the installed ones."""
        plugins = self.discover()
        for plugin in plugins:
            if plugin.name == name:
                return plugin
        known = ", ".join(p.name for p in plugins) or "none"
        raise PluginNotFound(name, f"no provider named {name!r} is installed (installed: {known})")

    def loaded_names(self) -> list[str]:
        return self.loaded_set.names()

    def status(self, plugin: DiscoveredPlugin, loaded: set[str] | None = None) -> PluginStatus:
        loaded = set(self.loaded_names()) if loaded is None else loaded
        sup = self._supervisors.get(plugin.name)
        hello = sup.handshake if sup else None
        return PluginStatus(
            name=plugin.name,
            distribution=plugin.distribution,
            version=plugin.version,
            target=plugin.target,
            loaded=plugin.name in loaded,
            error=plugin.error,
            status=sup.status if sup else "not started",
            plugin_version=hello.plugin_version if hello else None,
            api_version=hello.api_version if hello else None,
            pid=sup.pid if sup else None,
            restarts=sup.restarts if sup else 0,
            crashes=sup.crashes if sup else 0,
            last_error=sup.last_error if sup else None,
        )

    def statuses(self) -> list[PluginStatus]:
        loaded = set(self.loaded_names())
        return [self.status(p, loaded) for p in self.discover()]

    # -- workers ---------------------------------------------------------------

    def supervisor(self, name: str) -> Supervisor:
        """The supervisor of ``name``, created on first use (the worker starts lazily)."""
        with self._lock:
            sup = self._supervisors.get(name)
            if sup is None:
                sup = Supervisor(
                    name,
                    self.config.provider_options(name, self._overrides),
                    start_timeout=self.timeout,
                    policy=self._policy,
                    start_method=self._start_method,
                    prestarted=self._prestarted.pop(name, None),
                )
                self._supervisors[name] = sup
            return sup

    def client(self, name: str) -> ProviderClient:
        return ProviderClient(self.supervisor(name), timeout=self.timeout)

    def load(self, name: str) -> PluginStatus:
        """Start the worker, complete the handshake, health-check it, and mark it loaded."""
        plugin = self.find(name)
        if plugin.error:
            raise PluginNotFound(name, f"provider {name!r} cannot be loaded: {plugin.error}")
        self.client(name).ping()
        self.loaded_set.add(name)
        return self.status(plugin)

    def unload(self, name: str) -> None:
        """Remove ``name`` from the loaded set and stop its worker."""
        self.loaded_set.discard(name)
        with self._lock:
            sup = self._supervisors.pop(name, None)
        if sup is not None:
            sup.shutdown()

    def shutdown(self) -> None:
        """Stop every worker, in parallel, and reap them."""
        with self._lock:
            supervisors = list(self._supervisors.values())
            self._supervisors.clear()
            prestarted = list(self._prestarted.values())
            self._prestarted.clear()
        threads = [threading.Thread(target=s.shutdown) for s in supervisors]
        threads += [threading.Thread(target=w.shutdown) for w in prestarted]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
