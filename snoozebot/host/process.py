"""One worker process: launch, handshake, calls in flight, and orderly shutdown.

A :class:`WorkerProcess` is one life of a worker. It never restarts itself
(that is :mod:`snoozebot.host.supervisor`'s policy); it detects its own death
at once through EOF on the channel or the process sentinel, and fails every
call in flight when it dies.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import selectors
import sys
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from snoozebot import sdk
from snoozebot.errors import (
    CapabilityMissing,
    PluginCrashed,
    PluginIncompatible,
    PluginLoadError,
    PluginNotFound,
    PluginTimeout,
    PluginUnavailable,
    provider_error_from_wire,
)
from snoozebot.host import protocol
from snoozebot.host.worker import run_worker
from snoozebot.text import one_line

__all__ = ["Handshake", "WorkerProcess", "choose_start_method"]

log = logging.getLogger("snoozebot.host")

_SHUTDOWN_GRACE_SECONDS = 2.0
_TERMINATE_GRACE_SECONDS = 1.0


def choose_start_method() -> str:
    """``fork`` while the host is single-threaded (fastest, measured), else ``forkserver``.

    Forking a process that runs other threads can copy a lock held by one of
    them; the forkserver forks from a clean single-threaded server instead.
    """
    env = os.environ.get("SNOOZEBOT_START_METHOD")
    if env:
        return env
    return "fork" if threading.active_count() == 1 else "forkserver"


@dataclass(frozen=True)
class Handshake:
    """What a worker announced in its ``hello`` message."""

    provider: str
    protocol: str
    plugin_version: str
    api_version: str
    requires_plugins: tuple[str, ...]
    pid: int
    capabilities: tuple[str, ...] = ()
    """The optional methods (:data:`snoozebot.host.protocol.CAPABILITIES`) the provider serves."""

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Handshake:
        """Read a ``hello``; capabilities the host does not know are left out (it cannot call them)."""
        announced = message.get("capabilities") or []
        known = {str(m) for m in protocol.CAPABILITIES}
        return cls(
            provider=str(message.get("provider")),
            protocol=str(message.get("protocol")),
            plugin_version=str(message.get("plugin_version")),
            api_version=str(message.get("api_version")),
            requires_plugins=tuple(str(r) for r in message.get("requires_plugins") or ()),
            pid=int(message.get("pid") or 0),
            capabilities=tuple(c for c in announced if isinstance(c, str) and c in known)
            if isinstance(announced, list)
            else (),
        )

    def require(self, method: str) -> None:
        """Raise CapabilityMissing unless ``method`` is a core method or an announced capability."""
        try:
            spec = protocol.METHODS[protocol.Method(method)]
        except ValueError:
            return  # not a method of the protocol: the worker refuses it
        if spec.capability and method not in self.capabilities:
            raise CapabilityMissing(self.provider, method)


class WorkerProcess:
    """A started worker for one provider; use :meth:`launch` to create one."""

    def __init__(self, provider: str, process: Any, conn: Connection) -> None:
        self.provider = provider
        self._process = process
        self._conn = conn
        self._send_lock = threading.Lock()
        self._pending: dict[int, tuple[str, Future[Any]]] = {}
        self._pending_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._dead: PluginUnavailable | None = None
        self._shutting_down = False
        self._reader: threading.Thread | None = None
        self._plugin_log = logging.getLogger(f"snoozebot.plugin.{provider}")
        self.handshake: Handshake | None = None

    # -- life cycle -------------------------------------------------------

    @classmethod
    def launch(
        cls,
        provider: str,
        config: dict[str, str],
        *,
        start_method: str | None = None,
        target: str | None = None,
    ) -> WorkerProcess:
        """Start the process; the handshake is completed by :meth:`wait_ready`.

        ``target`` is the entry point's ``module:Class`` when the host knows it.
        """
        ctx: Any = multiprocessing.get_context(start_method or choose_start_method())
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=run_worker,
            args=(child_conn, provider, dict(config), os.getpid(), target),
            name=f"snoozebot-worker-{provider}",
        )
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a forked child must not inherit unflushed host output
        process.start()
        child_conn.close()
        return cls(provider, process, parent_conn)

    @property
    def pid(self) -> int | None:
        return int(self._process.pid) if self._process.pid is not None else None

    @property
    def alive(self) -> bool:
        return self._dead is None and self._process.is_alive()

    def wait_ready(self, *, timeout: float, host_api_version: str = sdk.API_VERSION) -> Handshake:
        """Read the worker's first message and check compatibility."""
        try:
            message = self._read_first(timeout)
            if message["type"] == "fatal":
                error = message.get("error") or {}
                code = error.get("code")
                exc_cls = PluginNotFound if code == "plugin_not_found" else PluginLoadError
                raise exc_cls(self.provider, str(error.get("message", "failed to load")))
            if message["type"] != "hello":
                raise PluginLoadError(
                    self.provider, f"plugin {self.provider!r} sent {message['type']!r} before hello"
                )
            hello = Handshake.from_message(message)
            self._check(hello, host_api_version)
        except BaseException:
            self.shutdown()
            raise
        self.handshake = hello
        self._reader = threading.Thread(
            target=self._read_loop, name=f"snoozebot-reader-{self.provider}", daemon=True
        )
        self._reader.start()
        return hello

    def _read_first(self, timeout: float) -> dict[str, Any]:
        while True:
            ready = wait([self._conn, self._process.sentinel], timeout)
            if not ready:
                raise PluginTimeout(
                    self.provider, f"plugin {self.provider!r} did not start within {timeout:g}s"
                )
            if self._conn in ready or self._conn.poll():
                try:
                    message = protocol.decode(self._conn.recv_bytes(protocol.MAX_MESSAGE_BYTES))
                except (EOFError, OSError, protocol.ProtocolError):
                    raise self._crash_error("while starting") from None
                if message["type"] == "log":
                    self._log(message)
                    continue
                return message
            raise self._crash_error("while starting")

    def _check(self, hello: Handshake, host_api_version: str) -> None:
        if not protocol.is_compatible(hello.protocol, protocol.PROTOCOL_VERSION):
            raise PluginIncompatible(
                self.provider,
                f"plugin {self.provider!r} speaks protocol {hello.protocol}, "
                f"this snoozebot speaks {protocol.PROTOCOL_VERSION}",
            )
        if not protocol.is_compatible(hello.api_version, host_api_version):
            raise PluginIncompatible(
                self.provider,
                f"plugin {self.provider!r} {hello.plugin_version} needs plugin API {hello.api_version}, "
                f"this snoozebot provides API {host_api_version}",
            )

    def _crash_error(self, during: str) -> PluginCrashed:
        self._process.join(timeout=_TERMINATE_GRACE_SECONDS)
        exitcode = self._process.exitcode
        how = (
            f"exit code {exitcode}"
            if exitcode is not None and exitcode >= 0
            else (f"killed by signal {-exitcode}" if exitcode is not None else "channel closed")
        )
        return PluginCrashed(self.provider, f"plugin {self.provider!r} crashed {during} ({how})")

    # -- calls --------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], *, timeout: float) -> Any:
        """Send one request and wait for its answer; raises ProviderError or PluginUnavailable."""
        future = self.submit(method, params)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            error = PluginTimeout(
                self.provider,
                f"plugin {self.provider!r} did not answer {method} within {timeout:g}s; "
                "its worker was stopped",
            )
            self.kill(reason=error)
            raise error from None

    def submit(self, method: str, params: dict[str, Any]) -> Future[Any]:
        """Send one request; the future resolves with its result or error.

        A capability the worker did not announce is never sent (CapabilityMissing).
        """
        future: Future[Any] = Future()
        if self._dead is not None:
            future.set_exception(self._dead)
            return future
        if self.handshake is not None:
            self.handshake.require(method)
        request_id = next(self._ids)
        data = protocol.encode({"type": "request", "id": request_id, "method": method, "params": params})
        with self._pending_lock:
            self._pending[request_id] = (method, future)
        try:
            with self._send_lock:
                self._conn.send_bytes(data)
        except (OSError, ValueError):
            with self._pending_lock:
                self._pending.pop(request_id, None)
            future.set_exception(self._dead or self._crash_error(f"during {method}"))
        return future

    def _read_loop(self) -> None:
        channel, sentinel = self._conn.fileno(), self._process.sentinel
        with selectors.DefaultSelector() as selector:
            selector.register(channel, selectors.EVENT_READ)
            selector.register(sentinel, selectors.EVENT_READ)
            try:
                while True:
                    ready = {key.fd for key, _ in selector.select()}
                    # drain the channel before believing the sentinel: a worker's
                    # last words may arrive together with its death
                    if channel not in ready and not self._conn.poll():
                        break
                    try:
                        message = protocol.decode(self._conn.recv_bytes(protocol.MAX_MESSAGE_BYTES))
                    except protocol.ProtocolError as exc:
                        log.warning("plugin %r sent a bad message: %s", self.provider, exc)
                        continue
                    self._handle(message)
            except (EOFError, OSError):
                pass
        self._on_death()
        self._conn.close()

    def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "log":
            self._log(message)
            return
        if message["type"] != "response":
            return
        with self._pending_lock:
            entry = self._pending.pop(int(message.get("id", -1)), None)
        if entry is None:
            return
        _, future = entry
        if "error" in message and message["error"] is not None:
            future.set_exception(provider_error_from_wire(message["error"]))
        else:
            future.set_result(message.get("result"))

    def _log(self, message: dict[str, Any]) -> None:
        level = int(message.get("level", logging.INFO))
        self._plugin_log.log(level, "[%s] %s", self.provider, one_line(str(message.get("message", ""))))

    def _on_death(self) -> None:
        with self._pending_lock:
            pending = list(self._pending.values())
            self._pending.clear()
        if self._dead is not None:
            pass  # killed on purpose; the reason is already set
        elif self._shutting_down:
            self._dead = PluginUnavailable(self.provider, f"plugin {self.provider!r} was shut down")
        else:
            methods = ", ".join(sorted({m for m, _ in pending})) or "idle"
            self._dead = self._crash_error(f"during {methods}" if pending else "while idle")
        for _, future in pending:
            if not future.done():
                future.set_exception(self._dead)
        self._process.join(timeout=_TERMINATE_GRACE_SECONDS)

    # -- shutdown -----------------------------------------------------------

    def shutdown(self, *, grace: float = _SHUTDOWN_GRACE_SECONDS) -> None:
        """Ask the worker to exit, then terminate, then kill; always reap it."""
        self._shutting_down = True
        if self._process.is_alive():
            try:
                with self._send_lock:
                    self._conn.send_bytes(protocol.encode({"type": "shutdown"}))
            except (OSError, ValueError):
                pass
            self._process.join(timeout=grace)
        self.kill()

    def kill(self, *, reason: PluginUnavailable | None = None) -> None:
        """Terminate, then kill, and reap the process; calls in flight fail with ``reason``."""
        if reason is not None and self._dead is None:
            self._dead = reason
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=_TERMINATE_GRACE_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=_TERMINATE_GRACE_SECONDS)
        else:
            self._process.join(timeout=0)
        if self._reader is None:
            self._conn.close()
        else:
            self._reader.join(timeout=_TERMINATE_GRACE_SECONDS)
