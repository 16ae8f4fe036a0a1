"""The worker process: loads one provider and serves its calls over the channel.

Runs in a child process. It leads a session of its own, so that whatever the
plugin forks can be ended with it as one process group; it stays behind as a
small guard that forks the worker proper (a plugin that kills its parent ends
only its own worker). The worker ignores SIGINT (the host shuts it down in
order), exits by itself with its whole group when the host dies, keeps the
plugin's stdout and stderr away from the channel (both become ``log`` messages
the host prefixes with the plugin's name), and serves requests concurrently in
a thread pool. See docs/architecture.md, "Process isolation".
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from snoozebot import sdk
from snoozebot.errors import error_to_wire
from snoozebot.host import protocol
from snoozebot.host.discovery import ENTRY_POINT_GROUP
from snoozebot.host.scopes import ScopedProviders

__all__ = ["capabilities_of", "run_worker"]

_MAX_CONCURRENT_CALLS = 32
_PARENT_POLL_SECONDS = 0.25


class _Channel:
    """Thread-safe sender of protocol messages."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = protocol.encode(message)
        with self._lock:
            self._conn.send_bytes(data)


class _ChannelLogHandler(logging.Handler):
    """Forwards the plugin's log records to the host."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # the channel is gone; nothing sensible to do
            self._channel.send({"type": "log", "level": record.levelno, "message": self.format(record)})


def _capture_stream(fd: int, channel: _Channel, level: int, stream_name: str) -> io.TextIOWrapper:
    """Point ``fd`` at a pipe whose lines go to the host as log messages."""
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, fd)
    os.close(write_fd)

    def pump() -> None:
        with open(read_fd, "rb", buffering=0) as pipe:
            for line in iter(pipe.readline, b""):
                text = line.decode(errors="replace").rstrip("\n")
                try:
                    channel.send({"type": "log", "level": level, "message": f"[{stream_name}] {text}"})
                except Exception:
                    return

    threading.Thread(target=pump, name=f"snoozebot-{stream_name}", daemon=True).start()
    return io.TextIOWrapper(open(fd, "wb", buffering=0, closefd=False), line_buffering=True)


def _watch_parent(host_pid: int, guard_pid: int, group: int | None) -> None:
    """End the worker and its whole group at once when its guard or the host is gone."""
    while True:
        if os.getppid() != guard_pid or not _alive(host_pid):
            _end_group(group)
        time.sleep(_PARENT_POLL_SECONDS)


def _host_gone(host_pid: int, parent: int) -> bool:
    """The host's end: a changed parent when the host forked us, else its pid gone.

    The guard's parent may be a fork server rather than the host; the fork
    server's own death is no reason to end a worker.
    """
    if parent == host_pid:
        return os.getppid() != parent
    return not _alive(host_pid)


def _end_group(group: int | None) -> None:
    """SIGKILL this worker's group (the worker, its guard, whatever the plugin forked), then exit."""
    if group is not None:
        os.killpg(group, signal.SIGKILL)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_process_name(provider_name: str, prefix: str = "sb") -> None:
    """Name the process ``sb-PROVIDER`` (its guard ``sbg-PROVIDER``) in ps/top (Linux prctl; best effort)."""
    import ctypes

    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None)
        libc.prctl(15, f"{prefix}-{provider_name}"[:15].encode(), 0, 0, 0)  # PR_SET_NAME


def _new_session() -> int | None:
    """Lead a new session and process group (its id); everything forked from here on belongs to it."""
    try:
        os.setsid()
    except OSError:  # already a leader: there is no group of our own to end
        return None
    return os.getpid()


def _guard(conn: Connection, provider_name: str, host_pid: int, group: int | None) -> int:
    """Fork the worker proper and return the guard's pid in it; this process stays as its parent.

    The guard runs no plugin code and is nobody else's parent, so a plugin
    that kills its parent ends only its own worker. It exits as the worker
    did (same code or signal), and ends the whole group when the host is gone.
    """
    parent, guard = os.getppid(), os.getpid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # never a handler the host installed
    _set_process_name(provider_name, prefix="sbg")  # before the fork: the worker renames itself cheaply
    child = os.fork()
    if child == 0:
        return guard
    conn.close()  # the worker's end of the channel is the worker's alone
    try:
        pidfd: int | None = os.pidfd_open(child)
    except (AttributeError, OSError):  # not Linux 5.3+: poll instead
        pidfd = None
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        if _host_gone(host_pid, parent):
            _end_group(group)
        if pidfd is None:
            time.sleep(_PARENT_POLL_SECONDS / 5)
        else:
            select.select([pidfd], [], [], _PARENT_POLL_SECONDS)
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _isolate(
    channel: _Channel, provider_name: str, parent_pid: int, guard_pid: int, group: int | None
) -> None:
    _set_process_name(provider_name)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Replace, never flush, the stream objects inherited from the host: their
    # buffers hold the host's output, which must not be written twice.
    sys.stdout = _capture_stream(1, channel, logging.INFO, "stdout")
    sys.stderr = _capture_stream(2, channel, logging.WARNING, "stderr")
    root = logging.getLogger()
    root.handlers = [_ChannelLogHandler(channel)]
    root.setLevel(logging.INFO)
    logging.getLogger("stevedore").setLevel(logging.CRITICAL)  # load failures are reported as fatal
    threading.Thread(
        target=_watch_parent, args=(parent_pid, guard_pid, group), name="snoozebot-parent-watch", daemon=True
    ).start()


def _load_provider_class(provider_name: str) -> type[sdk.CloudProvider]:
    """The provider class, loaded through stevedore's ``DriverManager`` (not instantiated)."""
    cls = _stevedore_driver(provider_name)
    if not (isinstance(cls, type) and issubclass(cls, sdk.CloudProvider)):
        raise TypeError(f"entry point {provider_name!r} is not a snoozebot.sdk.CloudProvider")
    if cls.name != provider_name:
        raise TypeError(f"provider class name {cls.name!r} does not match its entry point {provider_name!r}")
    return cls


def _stevedore_driver(provider_name: str) -> Any:
    from stevedore import driver

    return driver.DriverManager(
        namespace=ENTRY_POINT_GROUP,
        name=provider_name,
        invoke_on_load=False,
        on_load_failure_callback=_reraise,
    ).driver


def _reraise(manager: Any, entry_point: Any, exc: BaseException) -> None:
    raise exc


def _fatal_for(provider_name: str, exc: BaseException) -> dict[str, Any]:
    from stevedore.exception import NoMatches

    if isinstance(exc, NoMatches):
        return {"code": "plugin_not_found", "message": f"no provider named {provider_name!r} is installed"}
    if isinstance(exc, ImportError):
        missing = getattr(exc, "name", None)
        hint = (
            f" (missing module {missing!r}: install it, e.g. pip install {missing.split('.')[0]})"
            if missing
            else ""
        )
        return {
            "code": "plugin_load_error",
            "message": f"plugin {provider_name!r} failed to import: {exc}{hint}",
            "missing_module": missing,
        }
    return {
        "code": "plugin_load_error",
        "message": f"plugin {provider_name!r} failed to load: {type(exc).__name__}: {exc}",
    }


def capabilities_of(cls: type[sdk.CloudProvider]) -> list[protocol.Method]:
    """The optional methods ``cls`` announces: those it overrides, if its api_version has them.

    A 1.0 plugin announces none, whatever it defines.
    """
    return [
        method
        for method in protocol.CAPABILITIES
        if protocol.is_compatible(protocol.METHODS[method].since, str(cls.api_version))
        and _overrides(cls, str(protocol.METHODS[method].attribute))
    ]


def _overrides(cls: type[sdk.CloudProvider], attribute: str) -> bool:
    base = inspect.getattr_static(sdk.CloudProvider, attribute, None)
    return inspect.getattr_static(cls, attribute, None) not in (None, base)


def _expansion(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise TypeError(f"returned {type(value).__name__} where a dict of option values was expected")
    return {str(k): [str(v) for v in values] for k, values in value.items()}


class _Dispatcher:
    """Serves each request from the method table: its provider call and the JSON of its result."""

    def __init__(
        self,
        provider_name: str,
        cls: type[sdk.CloudProvider],
        config: dict[str, str],
        *,
        capabilities: list[protocol.Method],
    ) -> None:
        self._name = provider_name
        self._cls = cls
        self._capabilities = frozenset(capabilities)
        self._results: dict[protocol.ResultKind, Callable[[Any, list[Any]], Any]] = {
            "instance": lambda value, _: self._instance(value),
            "instances": lambda value, _: [self._instance(i) for i in value],
            "batch": lambda value, args: self._batch(value, args[0]),
            "identity": lambda value, _: self._identity(value),
            "expansion": lambda value, _: _expansion(value),
            "price": lambda value, _: self._price(value),
        }
        # one provider object per scope asked for; the worker's own options build the first
        self._providers = ScopedProviders(cls, config)

    def close(self) -> None:
        self._providers.close()

    def _ping(self, scope: Mapping[str, Any] | None) -> dict[str, Any]:
        error = self._providers.setup_error(scope)
        wire = None if error is None else error_to_wire(error, plugin=self._name)
        return {"ok": error is None, "error": wire}

    def _instance(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, sdk.Instance):
            raise TypeError(f"returned {type(value).__name__} where an Instance was expected")
        return value.to_dict()

    def _identity(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, sdk.Identity):
            raise TypeError(f"returned {type(value).__name__} where an Identity was expected")
        if value.provider != self._name:
            raise TypeError(f"returned an Identity of provider {value.provider!r}, not {self._name!r}")
        return value.to_dict()

    def _price(self, value: Any) -> dict[str, Any] | None:
        if value is not None and not isinstance(value, sdk.HourlyPrice):
            raise TypeError(f"returned {type(value).__name__} where an HourlyPrice or None was expected")
        return value.to_dict() if value is not None else None

    def _batch(self, outcome: Any, ids: list[str]) -> list[dict[str, Any]]:
        if not isinstance(outcome, dict):
            raise TypeError(f"batch call returned {type(outcome).__name__}, not a dict")
        results = []
        for iid in ids:
            value = outcome.get(iid)
            if value is None:
                err: BaseException = sdk.ProviderError(f"provider returned no result for {iid}")
                results.append({"id": iid, "error": error_to_wire(err, plugin=self._name)})
            elif isinstance(value, BaseException):
                results.append({"id": iid, "error": error_to_wire(value, plugin=self._name)})
            else:
                results.append({"id": iid, "instance": self._instance(value)})
        return results

    def dispatch(self, method: str, params: dict[str, Any]) -> Any:
        try:
            name = protocol.Method(method)
        except ValueError:
            raise ValueError(f"unknown method {method!r}") from None
        spec = protocol.METHODS[name]
        if spec.capability and name not in self._capabilities:
            raise sdk.ProviderError(f"provider {self._name!r} does not offer {name} (not announced)")
        scope = params.get("scope")
        if spec.attribute is None:
            return self._ping(scope)
        target: Any = self._cls if spec.on_class else self._providers.get(scope)
        args, kwargs = spec.arguments(params)
        return self._results[spec.result](getattr(target, spec.attribute)(*args, **kwargs), args)


def run_worker(
    conn: Connection,
    provider_name: str,
    config: dict[str, str],
    parent_pid: int,
) -> None:
    """Process entry point: load ``provider_name`` and serve until shutdown or EOF."""
    group = _new_session()
    guard_pid = _guard(conn, provider_name, parent_pid, group)
    channel = _Channel(conn)
    _isolate(channel, provider_name, parent_pid, guard_pid, group)
    code = 0
    try:
        try:
            cls = _load_provider_class(provider_name)
        except BaseException as exc:
            channel.send({"type": "fatal", "error": _fatal_for(provider_name, exc)})
            return
        capabilities = capabilities_of(cls)
        channel.send(
            {
                "type": "hello",
                "protocol": protocol.PROTOCOL_VERSION,
                "provider": provider_name,
                "plugin_version": str(cls.version),
                "api_version": str(cls.api_version),
                "requires_plugins": [str(r) for r in cls.requires_plugins],
                "capabilities": [str(m) for m in capabilities],
                "pid": os.getpid(),
            }
        )
        dispatcher = _Dispatcher(provider_name, cls, config, capabilities=capabilities)
        _serve(conn, channel, dispatcher, provider_name)
        dispatcher.close()
    except BaseException:
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _serve(conn: Connection, channel: _Channel, dispatcher: _Dispatcher, provider_name: str) -> None:
    def handle(request_id: int, method: str, params: dict[str, Any]) -> None:
        try:
            reply: dict[str, Any] = {"result": dispatcher.dispatch(method, params)}
        except BaseException as exc:
            reply = {"error": error_to_wire(exc, plugin=provider_name)}
        try:
            channel.send({"type": "response", "id": request_id, **reply})
        except protocol.ProtocolError as exc:
            channel.send(
                {"type": "response", "id": request_id, "error": error_to_wire(exc, plugin=provider_name)}
            )

    with ThreadPoolExecutor(max_workers=_MAX_CONCURRENT_CALLS, thread_name_prefix="call") as pool:
        while True:
            try:
                message = protocol.decode(conn.recv_bytes(protocol.MAX_MESSAGE_BYTES))
            except (EOFError, OSError):
                os._exit(0)  # the host is gone: nobody is waiting for in-flight calls
            except protocol.ProtocolError:
                continue
            if message["type"] == "shutdown":
                return
            if message["type"] == "request":
                pool.submit(
                    handle, int(message["id"]), str(message["method"]), dict(message.get("params") or {})
                )
