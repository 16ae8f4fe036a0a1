"""Prometheus metrics of one agent, in a registry of its own.

========================================  ==========================  ==========================
metric                                    labels                      counts
========================================  ==========================  ==========================
``snoozebot_plugin_loads_total``          plugin, result              load requests (ok/error)
``snoozebot_plugin_unloads_total``        plugin                      unloads
``snoozebot_plugin_crashes_total``        plugin                      worker deaths
``snoozebot_plugin_restarts_total``       plugin                      restarts after a death
``snoozebot_rpc_duration_seconds``        provider, method, result    host → worker calls
``snoozebot_instance_actions_total``      provider, action, result    stop/start per instance
``snoozebot_http_requests_total``         route, method, status       HTTP requests
``snoozebot_http_request_duration_seconds``  route, method            HTTP latency
``snoozebot_snoozed_hours_total``         provider                    hours snoozed (journal)
``snoozebot_saved_amount_total``          provider                    USD those hours saved
========================================  ==========================  ==========================

Crashes and restarts are read from the supervisors when scraped (a worker
that died is counted before anything restarts it), with the totals of
unloaded plugins carried over so the counters never go down. The savings
totals are read from the journal when scraped, over all of it (docs/savings.md);
a provider with no priced instance has no ``saved_amount`` sample.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snoozebot.errors import SnoozebotError
from snoozebot.host.manager import PluginStatus

__all__ = ["AgentMetrics", "HttpMetricsMiddleware", "SavingsSource", "StatusSource"]

log = logging.getLogger("snoozebot.agent")

StatusSource = Callable[[], Iterable[PluginStatus]]
"""The plugins whose worker counters are exported (the loaded ones)."""

SavingsSource = Callable[[], Mapping[str, tuple[float, float | None]]]
"""(hours, USD or None) snoozed so far, per provider."""

_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_RPC_BUCKETS = (0.0001, 0.00025, 0.0005, *_HTTP_BUCKETS)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _WorkerCollector(Collector):
    def __init__(self, metrics: AgentMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        crashes = CounterMetricFamily(
            "snoozebot_plugin_crashes", "Worker processes that died unexpectedly.", labels=["plugin"]
        )
        restarts = CounterMetricFamily(
            "snoozebot_plugin_restarts", "Workers restarted after a death.", labels=["plugin"]
        )
        for name, (dead, restarted) in sorted(self._metrics.worker_counts().items()):
            crashes.add_metric([name], dead)
            restarts.add_metric([name], restarted)
        yield crashes
        yield restarts


class _SavingsCollector(Collector):
    def __init__(self, source: SavingsSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        hours = CounterMetricFamily(
            "snoozebot_snoozed_hours", "Hours instances were snoozed by snoozebot.", labels=["provider"]
        )
        amount = CounterMetricFamily(
            "snoozebot_saved_amount", "On-demand price of the snoozed compute hours, USD.",
            labels=["provider"],
        )
        try:
            totals = self._source()
        except SnoozebotError as exc:  # a damaged journal must not take the other metrics with it
            log.warning("savings metrics left out: %s", exc)
            totals = {}
        for provider, (h, usd) in sorted(totals.items()):
            hours.add_metric([provider], h)
            if usd is not None:
                amount.add_metric([provider], usd)
        yield hours
        yield amount


def _worker_counts(status: PluginStatus) -> tuple[int, int]:
    """(deaths, restarts) of a supervisor: a death not yet noted by a restart counts already."""
    return status.crashes + (1 if status.status == "crashed" else 0), status.crashes


class AgentMetrics:
    """The agent's counters and histograms, and their text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._statuses: StatusSource = list
        self._retired: dict[str, tuple[int, int]] = {}
        self.plugin_loads = Counter(
            "snoozebot_plugin_loads", "Plugin load requests.", ["plugin", "result"], registry=self.registry
        )
        self.plugin_unloads = Counter(
            "snoozebot_plugin_unloads", "Plugin unloads.", ["plugin"], registry=self.registry
        )
        self.rpc_duration = Histogram(
            "snoozebot_rpc_duration_seconds",
            "Host to worker calls, by provider, method and result (ok or the error code).",
            ["provider", "method", "result"],
            buckets=_RPC_BUCKETS,
            registry=self.registry,
        )
        self.instance_actions = Counter(
            "snoozebot_instance_actions",
            "Instance stops and starts, by provider, action and result (ok or error).",
            ["provider", "action", "result"],
            registry=self.registry,
        )
        self.http_requests = Counter(
            "snoozebot_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.http_duration = Histogram(
            "snoozebot_http_request_duration_seconds", "HTTP request latency by route template and method.",
            ["route", "method"], buckets=_HTTP_BUCKETS, registry=self.registry,
        )
        self.registry.register(_WorkerCollector(self))

    def watch(self, statuses: StatusSource) -> None:
        """Export the worker counters of the plugins ``statuses`` returns."""
        self._statuses = statuses

    def watch_savings(self, totals: SavingsSource) -> None:
        """Export the savings totals ``totals`` returns when scraped."""
        self.registry.register(_SavingsCollector(totals))

    def retire(self, status: PluginStatus) -> None:
        """Keep the counts of a worker that is being unloaded (counters never go down)."""
        dead, restarted = _worker_counts(status)
        old_dead, old_restarted = self._retired.get(status.name, (0, 0))
        self._retired[status.name] = (old_dead + dead, old_restarted + restarted)

    def worker_counts(self) -> dict[str, tuple[int, int]]:
        """Per plugin: (deaths, restarts) of its workers, unloaded ones included."""
        counts = dict(self._retired)
        for status in self._statuses():
            dead, restarted = _worker_counts(status)
            old_dead, old_restarted = counts.get(status.name, (0, 0))
            counts[status.name] = (old_dead + dead, old_restarted + restarted)
        return counts

    def observe_rpc(self, provider: str, method: str, result: str, seconds: float) -> None:
        """Record one host → worker call."""
        self.rpc_duration.labels(provider, method, result).observe(seconds)

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class HttpMetricsMiddleware:
    """Counts every HTTP request by route template (not raw path: bounded label values)."""

    def __init__(self, app: ASGIApp, *, metrics: AgentMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            template = str(getattr(route, "path", None) or "unmatched")
            method = scope.get("method", "")
            method = method if method in _METHODS else "other"
            self.metrics.http_requests.labels(template, method, str(status[0])).inc()
            self.metrics.http_duration.labels(template, method).observe(time.perf_counter() - started)
