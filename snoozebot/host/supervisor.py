"""Restart policy for one provider's worker.

A :class:`Supervisor` owns at most one live :class:`WorkerProcess`. A worker
that died is replaced on the next call: the first restart is immediate, later
ones wait an exponentially growing backoff, and after ``restart_limit``
restarts without a stable run in between the provider is given up on. A
worker that stayed up for ``stable_start_time`` seconds resets the count.

A call that passes its timeout fails alone; it only prompts a health ping,
and the worker is stopped (to be restarted) only when that ping goes
unanswered within the timeout too. Every restart is logged, with its cause,
on the ``snoozebot.host`` logger. See docs/architecture.md, "Process isolation".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from snoozebot.errors import PluginCrashed, PluginTimeout, PluginUnavailable
from snoozebot.host.process import Handshake, WorkerProcess

__all__ = ["RestartPolicy", "Supervisor"]

log = logging.getLogger("snoozebot.host")


@dataclass(frozen=True)
class RestartPolicy:
    """Named restart settings."""

    restart_limit: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 10.0
    stable_start_time: float = 30.0

    def delay(self, restarts: int) -> float:
        """Seconds to wait before restart number ``restarts`` (1-based); the first is immediate."""
        if restarts <= 1:
            return 0.0
        return float(min(self.backoff_max, self.backoff_base * 2 ** (restarts - 2)))


class Supervisor:
    """Starts, restarts and stops the worker of one provider."""

    def __init__(
        self,
        provider: str,
        config: dict[str, str],
        *,
        start_timeout: float,
        policy: RestartPolicy | None = None,
        start_method: str | None = None,
        prestarted: WorkerProcess | None = None,
    ) -> None:
        self.provider = provider
        self.config = dict(config)
        self.start_timeout = start_timeout
        self.policy = policy or RestartPolicy()
        self.start_method = start_method
        self.restarts = 0
        self.crashes = 0
        self.last_error: str | None = None
        self._worker: WorkerProcess | None = None
        self._prestarted = prestarted
        self._started_at = 0.0
        self._lock = threading.Lock()
        self._shutting_down = False
        self._checking: set[int] = set()  # ids of the workers a health ping is out for

    @property
    def handshake(self) -> Handshake | None:
        return self._worker.handshake if self._worker else None

    @property
    def status(self) -> str:
        """``running``, ``crashed``, ``stopped`` or ``not started``."""
        if self._worker is None:
            return "not started"
        if self._worker.alive:
            return "running"
        return "stopped" if self._shutting_down else "crashed"

    @property
    def pid(self) -> int | None:
        return self._worker.pid if self._worker and self._worker.alive else None

    def worker(self) -> WorkerProcess:
        """The live worker, started or restarted as the policy allows."""
        with self._lock:
            if self._shutting_down:
                raise PluginUnavailable(self.provider, f"plugin {self.provider!r} is shutting down")
            if self._worker is not None and self._worker.alive:
                return self._worker
            if self._worker is not None:
                old = self._worker
                old.kill()
                self._note_death()
                cause = old.failure.message if old.failure else "it exited"
                log.warning(
                    "plugin %r: restarting its worker (pid %s; restart %d of at most %d): %s",
                    self.provider, old.pid, self.restarts, self.policy.restart_limit, cause,
                )
            self._worker = self._start()
            return self._worker

    def _note_death(self) -> None:
        self.crashes += 1
        if time.monotonic() - self._started_at >= self.policy.stable_start_time:
            self.restarts = 0
        self.restarts += 1
        if self.restarts > self.policy.restart_limit:
            raise PluginCrashed(
                self.provider,
                f"plugin {self.provider!r} crashed {self.restarts} times in a row; giving up "
                f"(restart limit {self.policy.restart_limit})",
            )
        time.sleep(self.policy.delay(self.restarts))

    def _start(self) -> WorkerProcess:
        worker, self._prestarted = self._prestarted, None
        if worker is None:
            worker = WorkerProcess.launch(self.provider, self.config, start_method=self.start_method)
        try:
            worker.wait_ready(timeout=self.start_timeout)
        except PluginUnavailable as exc:
            self.last_error = exc.message
            raise
        self._started_at = time.monotonic()
        return worker

    def call(self, method: str, params: dict[str, Any], *, timeout: float) -> Any:
        """One call to the provider, restarting a dead worker first.

        A call that times out fails alone, and sends the worker a health ping.
        """
        worker: WorkerProcess | None = None
        try:
            worker = self.worker()
            return worker.call(method, params, timeout=timeout)
        except PluginUnavailable as exc:
            self.last_error = exc.message
            if isinstance(exc, PluginTimeout) and worker is not None:
                self._check_health(worker, method, timeout)
            raise

    def _check_health(self, worker: WorkerProcess, method: str, timeout: float) -> None:
        """Ping ``worker`` in the background (once at a time); stop it if the ping times out."""
        if method == "ping":
            self._stop_unhealthy(worker, timeout)
            return
        with self._lock:
            if id(worker) in self._checking or self._shutting_down:
                return
            self._checking.add(id(worker))

        def check() -> None:
            try:
                worker.call("ping", {}, timeout=timeout)
            except PluginTimeout:
                self._stop_unhealthy(worker, timeout)
            except PluginUnavailable:
                pass  # it died or was shut down meanwhile: the next call sees to it
            finally:
                with self._lock:
                    self._checking.discard(id(worker))

        threading.Thread(target=check, name=f"snoozebot-health-{self.provider}", daemon=True).start()

    def _stop_unhealthy(self, worker: WorkerProcess, timeout: float) -> None:
        if not worker.alive or self._shutting_down:
            return
        cause = f"it did not answer its health ping within {timeout:g}s"
        log.warning("plugin %r: stopping its worker (pid %s): %s", self.provider, worker.pid, cause)
        reason = PluginTimeout(self.provider, f"plugin {self.provider!r} stopped answering: {cause}")
        worker.kill(reason=reason)

    def shutdown(self) -> None:
        """Stop the worker for good; nothing revives it afterwards."""
        with self._lock:
            self._shutting_down = True
            worker, self._worker = self._worker, None
            prestarted, self._prestarted = self._prestarted, None
        for w in (worker, prestarted):
            if w is not None:
                w.shutdown()
