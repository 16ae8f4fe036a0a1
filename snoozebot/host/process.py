"""One worker process: launch, handshake, calls in flight, and orderly shutdown.

A :class:`WorkerProcess` is one life of a worker. It never restarts itself
(that is :mod:`snoozebot.host.supervisor`'s policy); it detects its own death
at once through a pidfd (which no descendant holding the channel can mask) or
EOF on the channel, and fails every call in flight when it dies. The worker
leads a process group of its own: its death, or its shutdown, ends the whole
group, whatever the plugin forked. A call that passes its timeout fails alone.
See docs/architecture.md, "Process isolation".
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import selectors
import signal
import sys
import threading
import time
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


def _start_failure(provider: str, exc: OSError) -> str:
    """One line: why the worker's process could not be started."""
    import tempfile  # only on this rare path: `plugins list` imports this module

    reason = one_line(str(exc))
    if "AF_UNIX path too long" in reason:  # the forkserver's socket lives in $TMPDIR
        reason += f" ($TMPDIR {tempfile.gettempdir()!r} is too long for a socket path: set TMPDIR shorter)"
    return f"cannot start the {provider} worker: {reason}"


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
        self._abandoned: set[int] = set()
        self._dead: PluginUnavailable | None = None
        self._shutting_down = False
        self._exit_fd: Any = _open_pidfd(process.pid) or process.sentinel
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
    ) -> WorkerProcess:
        """Start the process; the handshake is completed by :meth:`wait_ready`."""
        ctx: Any = multiprocessing.get_context(start_method or choose_start_method())
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=run_worker,
            args=(child_conn, provider, dict(config), os.getpid()),
            name=f"snoozebot-worker-{provider}",
        )
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # a forked child must not inherit unflushed host output
        try:
            process.start()
        except OSError as exc:
            parent_conn.close()
            raise PluginUnavailable(provider, _start_failure(provider, exc)) from None
        finally:
            child_conn.close()
        return cls(provider, process, parent_conn)

    @property
    def pid(self) -> int | None:
        """The plugin's process (``sb-NAME``) once it said hello, else its guard's (``sbg-NAME``)."""
        if self.handshake is not None and self.handshake.pid:
            return self.handshake.pid
        return self._group or None

    @property
    def alive(self) -> bool:
        return self._dead is None and not wait([self._exit_fd], 0)

    @property
    def failure(self) -> PluginUnavailable | None:
        """Why this worker is dead (a crash, a failed health ping, a shutdown); None while alive."""
        return self._dead

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
            ready = wait([self._conn, self._exit_fd], timeout)
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
        """Send one request and wait for its answer; raises ProviderError or PluginUnavailable.

        A call that passes ``timeout`` fails alone (PluginTimeout); the worker
        and the other calls in flight go on, and its late answer is dropped.
        """
        request_id, future = self._submit(method, params)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            with self._pending_lock:
                if self._pending.pop(request_id, None) is not None:
                    self._abandoned.add(request_id)
            if future.done():  # answered (or died) just now
                return future.result()
            raise PluginTimeout(
                self.provider, f"plugin {self.provider!r} did not answer {method} within {timeout:g}s"
            ) from None

    def submit(self, method: str, params: dict[str, Any]) -> Future[Any]:
        """Send one request; the future resolves with its result or error.

        A capability the worker did not announce is never sent (CapabilityMissing).
        """
        return self._submit(method, params)[1]

    def _submit(self, method: str, params: dict[str, Any]) -> tuple[int, Future[Any]]:
        future: Future[Any] = Future()
        request_id = next(self._ids)
        if self._dead is not None:
            future.set_exception(self._dead)
            return request_id, future
        if self.handshake is not None:
            self.handshake.require(method)
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
        return request_id, future

    def _read_loop(self) -> None:
        channel, sentinel = self._conn.fileno(), self._exit_fd
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
        self._close_exit_fd()

    def _handle(self, message: dict[str, Any]) -> None:
        if message["type"] == "log":
            self._log(message)
            return
        if message["type"] != "response":
            return
        request_id = int(message.get("id", -1))
        with self._pending_lock:
            entry = self._pending.pop(request_id, None)
            self._abandoned.discard(request_id)
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
        wait([self._exit_fd], _TERMINATE_GRACE_SECONDS)  # EOF may come first: let it exit as it will
        _signal_group(self._group, signal.SIGKILL)  # orphans of a dead worker get no grace
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

    @property
    def _group(self) -> int:
        """The worker's process group: its guard leads it, so the guard's pid (0: not started)."""
        return int(self._process.pid or 0)

    def shutdown(self, *, grace: float = _SHUTDOWN_GRACE_SECONDS) -> None:
        """Ask the worker to exit, then terminate, then kill its group; always reap it.

        Calls the host gave up on (timed out) are not waited for.
        """
        self._shutting_down = True
        if self.alive:
            try:
                with self._send_lock:
                    self._conn.send_bytes(protocol.encode({"type": "shutdown"}))
            except (OSError, ValueError):
                pass
            self._process.join(timeout=0 if self._abandoned else grace)
        self.kill()

    def kill(self, *, reason: PluginUnavailable | None = None) -> None:
        """SIGTERM, then SIGKILL, the worker's whole group, and reap the worker.

        Calls in flight fail with ``reason``.
        """
        if reason is not None and self._dead is None:
            self._dead = reason
        _end_group(self._group, grace=_TERMINATE_GRACE_SECONDS)
        if self._process.is_alive():  # killed before it led its own group
            self._process.terminate()
            self._process.join(timeout=_TERMINATE_GRACE_SECONDS)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=_TERMINATE_GRACE_SECONDS)
        else:
            self._process.join(timeout=0)
        if self._reader is None:
            self._conn.close()
            self._close_exit_fd()
        else:
            self._reader.join(timeout=_TERMINATE_GRACE_SECONDS)

    def _close_exit_fd(self) -> None:
        if isinstance(self._exit_fd, int) and self._exit_fd != self._process.sentinel:
            fd, self._exit_fd = self._exit_fd, self._process.sentinel
            os.close(fd)


def _open_pidfd(pid: int | None) -> int | None:
    """A pidfd of ``pid``: readable once it exits, whoever holds its pipes (Linux 5.3+; else None)."""
    try:
        return os.pidfd_open(pid) if pid else None
    except (AttributeError, OSError):
        return None


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to process group ``group``; False when it has no member left."""
    if group <= 0:
        return False
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _end_group(group: int, *, grace: float) -> None:
    """SIGTERM the group, give its members ``grace`` seconds, then SIGKILL what is left."""
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while _group_running(group) and time.monotonic() < deadline:
        time.sleep(0.02)
    _signal_group(group, signal.SIGKILL)


def _group_running(group: int) -> bool:
    """Whether a member of the group still runs; zombies (which nobody may reap) do not count."""
    if not _signal_group(group, 0):
        return False
    try:
        names = os.listdir("/proc")
    except OSError:
        return True  # no /proc: wait out the grace
    for name in names:
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(group) and fields[0] not in ("Z", "X"):
            return True
    return False
