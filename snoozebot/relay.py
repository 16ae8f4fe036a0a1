"""Bytes both ways between a pair of file descriptors and a TCP connection (``snoozebot connect``).

:func:`open_connection` waits, with growing pauses and a deadline, for a TCP
port to accept; :func:`relay` then copies bytes as ``ssh -W`` does:

- input -> socket in a thread, socket -> output in the caller's thread, each
  read passed on at once (no buffering delay; ``TCP_NODELAY``), binary-safe;
- end of input half-closes the connection (``shutdown(SHUT_WR)``) and the
  remote side's answer is still read;
- the relay ends when the remote side closes. A connection reset or an
  output that can no longer be written is :class:`ConnectionDropped` (exit 1).

Ctrl-C arrives in the caller's thread as ``KeyboardInterrupt``; the input
thread is a daemon blocked in ``read`` and ends with the process. See
``docs/connect.md``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable

from snoozebot.errors import SnoozebotError

__all__ = ["ConnectionDropped", "NotReachable", "open_connection", "relay"]

_CHUNK = 256 * 1024  # socket -> output: one buffer, reused
# input -> socket: os.read allocates every time, and above malloc's mmap threshold (128 KiB) each read
# maps fresh pages: 256 KiB reads moved 48% of the bare relay's upload rate, 64 KiB ones 95%
# (benchmarks/bench_connect.py)
_READ = 64 * 1024
_FIRST_PAUSE = 0.2
_MAX_PAUSE = 5.0
_ATTEMPT_TIMEOUT = 5.0
_SEND_GRACE = 1.0


class NotReachable(SnoozebotError):
    """The port did not accept a connection before the deadline (exit 1)."""

    code = "not_reachable"


class ConnectionDropped(SnoozebotError):
    """The connection (or the output) broke in the middle of the relay (exit 1)."""

    code = "connection_dropped"


def open_connection(
    host: str,
    port: int,
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> socket.socket:
    """A connected socket to ``host:port``, retried (0.2 s pauses growing to 5 s) for ``timeout`` seconds."""
    deadline = clock() + timeout
    pause = _FIRST_PAUSE
    while True:
        remaining = deadline - clock()
        try:
            sock = socket.create_connection((host, port), timeout=max(0.1, min(_ATTEMPT_TIMEOUT, remaining)))
        except OSError as exc:
            problem = exc.strerror or str(exc) or type(exc).__name__
            remaining = deadline - clock()
            if remaining <= 0:
                raise NotReachable(f"{host}:{port} did not accept a connection ({problem})") from None
            sleep(min(pause, remaining))
            pause = min(_MAX_PAUSE, pause * 1.5)
            continue
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


class _Upstream(threading.Thread):
    """Input -> socket in a daemon thread; end of input half-closes the connection.

    An input that fails ends like end of input. A reset seen while sending is
    kept in ``reset`` (the kernel reports it to one call only, maybe this one);
    ``sending`` is held for each send, so the reader can wait for one in flight.
    """

    def __init__(self, sock: socket.socket, fd: int) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.fd = fd
        self.sending = threading.Lock()
        self.reset: str | None = None

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.fd, _READ):
                with self.sending:
                    try:
                        self.sock.sendall(chunk)
                    except ConnectionResetError as exc:
                        self.reset = exc.strerror or "connection reset"
                        return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)


def relay(sock: socket.socket, *, input_fd: int, output_fd: int, peer: str) -> None:
    """Copy ``input_fd`` -> ``sock`` and ``sock`` -> ``output_fd`` until the remote side closes.

    ``peer`` (``host:port``) names the connection in errors. The socket is
    closed on the way out.
    """
    sender = _Upstream(sock, input_fd)
    sender.start()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    try:
        while size := _receive(sock, buffer, peer):
            try:
                _write_all(output_fd, view[:size])
            except OSError as exc:
                raise ConnectionDropped(f"cannot write to the output: {exc.strerror or exc}") from None
        # The remote side closed: a send in flight may have been the call told of a reset.
        if sender.sending.acquire(timeout=_SEND_GRACE):
            sender.sending.release()
        if sender.reset is not None:
            raise ConnectionDropped(f"connection to {peer} dropped: {sender.reset}")
    finally:
        sock.close()


def _receive(sock: socket.socket, buffer: bytearray, peer: str) -> int:
    try:
        return sock.recv_into(buffer)
    except OSError as exc:
        raise ConnectionDropped(f"connection to {peer} dropped: {exc.strerror or exc}") from None
