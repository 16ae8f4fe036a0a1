"""The plugin manager: discovery, the loaded set, and one supervisor per provider."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snoozebot.config import Config
from snoozebot.errors import PluginNotFound, PluginUnavailable, UsageError
from snoozebot.host.discovery import DiscoveredPlugin, discover
from snoozebot.state import LoadedSet

if TYPE_CHECKING:  # process machinery and requirement checks are imported when first needed
    from snoozebot.host.client import ProviderClient
    from snoozebot.host.process import Handshake, WorkerProcess
    from snoozebot.host.requirements import PluginReport, ProviderFacts
    from snoozebot.host.supervisor import RestartPolicy, Supervisor

__all__ = ["DEFAULT_TIMEOUT", "LoadReport", "PluginManager", "PluginStatus"]

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
    problems: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    """Optional methods the worker announced (known once it started)."""

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
            "capabilities": list(self.capabilities),
            "pid": self.pid,
            "restarts": self.restarts,
            "crashes": self.crashes,
            "last_error": self.last_error,
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> PluginStatus:
        """Rebuild a status from :meth:`to_dict` output (the agent's answers)."""
        return cls(
            name=str(doc["name"]),
            distribution=doc.get("distribution"),
            version=doc.get("version"),
            target=str(doc.get("entry_point") or ""),
            loaded=bool(doc.get("loaded")),
            error=doc.get("error"),
            status=str(doc.get("status") or "not started"),
            plugin_version=doc.get("plugin_version"),
            api_version=doc.get("api_version"),
            capabilities=tuple(str(c) for c in doc.get("capabilities") or ()),
            pid=doc.get("pid"),
            restarts=int(doc.get("restarts") or 0),
            crashes=int(doc.get("crashes") or 0),
            last_error=doc.get("last_error"),
            problems=tuple(doc.get("problems") or ()),
        )


@dataclass(frozen=True)
class LoadReport:
    """What loading a provider did: the statuses in load order (what it requires first, the
    provider last), and its setup problem when it is loaded but not configured yet."""

    loaded: list[PluginStatus]
    config_error: str | None = None

    @property
    def status(self) -> PluginStatus:
        """The status of the provider that was asked for."""
        return self.loaded[-1]

    @property
    def also_loaded(self) -> list[str]:
        """The providers loaded because it requires them."""
        return [s.name for s in self.loaded[:-1]]


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
        """The installed providers (see :func:`snoozebot.host.discovery.discover`)."""
        return discover()

    def find(self, name: str, plugins: list[DiscoveredPlugin] | None = None) -> DiscoveredPlugin:
        """The installed provider ``name`` (among ``plugins``, default: discovered now).

        PluginNotFound names the installed ones.
        """
        plugins = self.discover() if plugins is None else plugins
        for plugin in plugins:
            if plugin.name == name:
                return plugin
        names = [p.name for p in plugins]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(names) or "none"
        raise PluginNotFound(name, f"no provider named {name!r} is installed (installed: {known}){hint}")

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
            capabilities=hello.capabilities if hello else (),
            pid=sup.pid if sup else None,
            restarts=sup.restarts if sup else 0,
            crashes=sup.crashes if sup else 0,
            last_error=sup.last_error if sup else None,
        )

    def statuses(self, *, fresh: bool = False) -> list[PluginStatus]:
        """Every installed provider, with the problems its metadata shows (no worker started).

        ``fresh`` rebuilds stevedore's entry-point listing instead of reading its cache.
        """
        from snoozebot.host.requirements import check_plugins

        loaded = set(self.loaded_names())
        plugins = discover(fresh=True) if fresh else self.discover()
        problems = {r.name: tuple(r.problems) for r in check_plugins(plugins)}
        return [replace(self.status(p, loaded), problems=problems[p.name]) for p in plugins]

    # -- workers ---------------------------------------------------------------

    def supervisor(self, name: str) -> Supervisor:
        """The supervisor of ``name``, created on first use (the worker starts lazily)."""
        with self._lock:
            sup = self._supervisors.get(name)
            if sup is None:
                from snoozebot.host.supervisor import Supervisor

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

    def client(self, name: str, *, scope: Mapping[str, str] | None = None) -> ProviderClient:
        """Calls to ``name``'s worker; with ``scope``, answered for those provider options."""
        from snoozebot.host.client import ProviderClient

        return ProviderClient(self.supervisor(name), timeout=self.timeout, scope=scope)

    def load_all(self, name: str) -> LoadReport:
        """Check requirements, then start, health-check and mark loaded ``name`` and what it requires.

        Refuses (nothing is marked loaded) when any requirement is unmet or the
        providers require each other in a cycle. Each worker is pinged once.
        """
        from snoozebot.host.requirements import check_plugins, load_order

        plugins = self.discover()
        plugin = self.find(name, plugins)
        if plugin.error:
            raise PluginNotFound(name, f"provider {name!r} cannot be loaded: {plugin.error}")
        learnt = self._learn([name], plugins)
        own = learnt[name]
        if isinstance(own, PluginUnavailable):
            raise own
        reports = {r.name: r for r in check_plugins(plugins, names=list(learnt), facts=_facts(learnt))}
        order = load_order(name, reports)
        by_name = {p.name: p for p in plugins}
        setup_errors = {each: self.client(each).ping() for each in order}
        for each in order:
            self.loaded_set.add(each)
        setup_error = setup_errors[name]
        return LoadReport(
            [self.status(by_name[each]) for each in order], setup_error.message if setup_error else None
        )

    def unload(self, name: str, *, force: bool = False) -> list[str]:
        """Mark ``name`` unloaded and stop its worker; the names unloaded, in order.

        Refused (UsageError) while other loaded providers require it, unless
        ``force``, which unloads those dependents first.
        """
        dependents = self.dependents(name)
        if dependents and not force:
            raise UsageError(
                f"cannot unload {name!r}: loaded provider(s) {', '.join(dependents)} require it; "
                f"unload them first, or run: snoozebot plugins unload {name} --force "
                f"(also unloads {', '.join(dependents)})"
            )
        unloaded = [*reversed(dependents), name]
        for each in unloaded:
            self.loaded_set.discard(each)
            with self._lock:
                sup = self._supervisors.pop(each, None)
            if sup is not None:
                sup.shutdown()
        return unloaded

    # -- requirements ---------------------------------------------------------

    def check(self, names: Iterable[str] | None = None) -> list[PluginReport]:
        """Requirement reports for ``names`` (default: every provider); workers tell what only they know."""
        from snoozebot.host.requirements import check_plugins

        plugins = self.discover()
        wanted = [p.name for p in plugins] if names is None else [self.find(n, plugins).name for n in names]
        learnt = self._learn(wanted, plugins)
        return check_plugins(plugins, names=wanted, facts=_facts(learnt))

    def dependents(self, name: str) -> list[str]:
        """Loaded providers that require ``name``, directly or through others (nearest first)."""
        from snoozebot.host.requirements import required_providers

        installed = {p.name for p in self.discover() if not p.error}
        loaded = [n for n in self.loaded_names() if n != name and n in installed]
        if not loaded:
            return []
        graph = {n: required_providers(f) for n, f in _facts(self._handshakes(loaded)).items()}
        found: list[str] = []
        frontier = [name]
        while frontier:
            target = frontier.pop(0)
            for each, requires in graph.items():
                if target in requires and each not in found:
                    found.append(each)
                    frontier.append(each)
        return found

    def _learn(
        self, names: Iterable[str], plugins: list[DiscoveredPlugin]
    ) -> dict[str, Handshake | PluginUnavailable]:
        """Handshakes of ``names`` and of every provider they require, transitively."""
        from snoozebot.host.requirements import required_providers

        usable = {p.name for p in plugins if not p.error}
        learnt: dict[str, Handshake | PluginUnavailable] = {}
        pending = [n for n in names if n in usable]
        while pending:
            learnt.update(self._handshakes(pending))
            pending = [
                req
                for facts in _facts(learnt).values()
                for req in required_providers(facts)
                if req in usable and req not in learnt
            ]
        return learnt

    def _handshakes(self, names: Iterable[str]) -> dict[str, Handshake | PluginUnavailable]:
        """The hello of each provider in ``names``, their workers started side by side."""
        from snoozebot.host.process import WorkerProcess

        wanted = list(dict.fromkeys(names))
        with self._lock:
            for name in wanted:
                if name not in self._supervisors and name not in self._prestarted:
                    options = self.config.provider_options(name, self._overrides)
                    self._prestarted[name] = WorkerProcess.launch(
                        name, options, start_method=self._start_method
                    )
        found: dict[str, Handshake | PluginUnavailable] = {}
        for name in wanted:
            try:
                hello = self.supervisor(name).worker().handshake
                assert hello is not None
                found[name] = hello
            except PluginUnavailable as exc:
                found[name] = exc
        return found

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


def _facts(learnt: Mapping[str, Handshake | PluginUnavailable]) -> dict[str, ProviderFacts]:
    """What the checks need from each handshake (or from the failure to get one)."""
    from snoozebot.host.requirements import ProviderFacts

    facts = {}
    for name, hello in learnt.items():
        if isinstance(hello, PluginUnavailable):
            facts[name] = ProviderFacts(error=hello.message, error_code=hello.code)
        else:
            facts[name] = ProviderFacts(hello.plugin_version, hello.api_version, hello.requires_plugins)
    return facts
