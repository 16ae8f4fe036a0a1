"""The FastAPI application factory.

:func:`create_app` returns the app with every API router mounted; more
routers (a web UI, say) can be added with ``app.include_router`` and reuse
:func:`snoozebot.agent.auth.require` for their role checks. The lifespan
loads the persisted loaded set at start-up and stops every worker at
shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from snoozebot import __version__
from snoozebot.agent.auth import RefuseQueryTokens
from snoozebot.agent.errors import install_error_handlers
from snoozebot.agent.leader import Scheduler
from snoozebot.agent.limits import MAX_BODY_BYTES, BodyMediaTypeRequired, BodySizeLimit
from snoozebot.agent.metrics import AgentMetrics, HttpMetricsMiddleware
from snoozebot.agent.routes import api_routers, postpone
from snoozebot.agent.service import AgentService
from snoozebot.agent.tokens import TokenStore
from snoozebot.agent.ui import install_ui
from snoozebot.config import Config
from snoozebot.host.client import ProviderClient
from snoozebot.host.manager import DEFAULT_TIMEOUT, PluginManager
from snoozebot.operations import ActionContext
from snoozebot.overrides import OverrideStore
from snoozebot.savings.figures import savings_figures
from snoozebot.savings.lookup import worker_lookup
from snoozebot.savings.price_cache import CachedLookup
from snoozebot.schedule.activity import ActivityStore
from snoozebot.store import forget_store, open_store

__all__ = ["WORKER_START_METHOD", "create_app"]

WORKER_START_METHOD = "forkserver"
"""How the agent starts workers. The agent runs threads, so it must not fork
them itself (a child could inherit a lock another thread held); the fork
server is a clean single-threaded process that forks them instead, faster
than ``spawn`` (measured in benchmarks/bench_host.py)."""


def create_app(
    *,
    config: Config,
    state_directory: Path,
    timeout: float = DEFAULT_TIMEOUT,
    threads: int = 64,
    max_body_bytes: int = MAX_BODY_BYTES,
    schedule_every: float | None = None,
) -> FastAPI:
    """The agent: REST API, metrics and token checks over a new plugin manager.

    ``schedule_every`` (seconds) runs the schedules in the agent, led by one
    agent of the store (:mod:`snoozebot.agent.leader`).
    """
    manager = PluginManager(
        config=config, state_directory=state_directory, timeout=timeout, start_method=WORKER_START_METHOD
    )
    metrics = AgentMetrics()
    # A request waits for another path's instance lock at most as long as for a plugin call.
    store = open_store(state_directory, config, lock_timeout=timeout)
    service = AgentService(
        manager,
        context=ActionContext.in_directory(state_directory, lock_timeout=timeout, store=store),
        metrics=metrics,
        threads=threads,
    )
    scheduler = (
        Scheduler(
            service=service,
            store=store,
            config=config,
            state_directory=state_directory,
            every=schedule_every,
            metrics=metrics,
        )
        if schedule_every
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await service.start()
            if scheduler is not None:
                scheduler.start()
            yield
        finally:
            if scheduler is not None:
                await service.run(scheduler.close)
            await service.close()
            forget_store(store)  # the database's idle connections go with the agent

    app = FastAPI(
        title="snoozebot agent",
        version=__version__,
        description=(
            "Plugins and cloud instances over HTTP. Every endpoint but /healthz needs "
            "`Authorization: Bearer TOKEN`; viewer reads, operator also stops and starts "
            "instances, admin also loads and unloads plugins and manages tokens; reporter "
            "only sends activity reports."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service

    def loaded(name: str) -> ProviderClient | None:  # prices come from loaded providers only
        return service.client(name) if name in service.loaded_names() else None

    app.state.savings = savings_figures(
        config, store, lookup=CachedLookup(state_directory, worker_lookup(loaded))
    )
    metrics.watch_savings(app.state.savings.by_provider)
    app.state.metrics = metrics
    app.state.store = store
    app.state.scheduler = scheduler
    app.state.tokens = TokenStore(state_directory, store)
    app.state.activity = ActivityStore.in_directory(state_directory, store=store)
    app.state.overrides = OverrideStore.in_directory(state_directory, store=store)
    install_error_handlers(app)
    for router in api_routers():
        app.include_router(router)
    install_ui(app)
    app.include_router(postpone.router)
    app.add_middleware(BodyMediaTypeRequired)
    app.add_middleware(BodySizeLimit, limit=max_body_bytes)
    app.add_middleware(RefuseQueryTokens)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    return app
