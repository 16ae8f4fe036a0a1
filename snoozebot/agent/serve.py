"""Running the agent under uvicorn, with an orderly shutdown.

The listening socket is bound here, before uvicorn starts, so a busy port is
one clear error line (and ``--port 0`` picks a free one). uvicorn handles
SIGINT and SIGTERM: it stops accepting, waits up to ``GRACE_SECONDS`` for
requests in flight, then the app's lifespan stops every worker; afterwards
the signal is re-raised, so Ctrl-C ends with exit code 130 as in the CLI.

Slow and hostile clients (docs/agent.md): uvicorn runs the agent's own
HTTP/1.1 protocol (:mod:`snoozebot.agent.protocol`: a deadline and a size
limit on request heads), closes idle kept-alive connections after
``KEEP_ALIVE_TIMEOUT`` seconds, and logs to stderr only
(:mod:`snoozebot.agent.access_log`).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from snoozebot.config import Config
from snoozebot.errors import SnoozebotError

__all__ = ["GRACE_SECONDS", "ServeOptions", "bind", "check_state", "serve"]

GRACE_SECONDS = 5.0

log = logging.getLogger("snoozebot.agent")


@dataclass(frozen=True)
class ServeOptions:
    """``snoozebot agent serve`` settings."""

    host: str = "127.0.0.1"
    port: int = 8080
    timeout: float = 60.0
    threads: int = 64
    access_log: bool = False
    schedule_every: float | None = None
    """Seconds between the agent's own schedule runs (``--schedule-every``); None: no runs."""


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a one-line SnoozebotError when that is not possible."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise SnoozebotError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise SnoozebotError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(False)
    return sock


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _Terminated(Exception):
    """SIGTERM arrived (uvicorn re-raises it once its shutdown is complete)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def check_state(state_directory: Path, config: Config | None = None) -> bool:
    """Read every state file the agent needs, and write the audit log, before it listens.

    Damaged state is StateDamaged, a read-only or full directory StateUnwritable
    (the agent audits every action), an unreachable database DatabaseUnavailable,
    each one line naming the file or the database's host and port. True when
    tokens exist.
    """
    from snoozebot.agent.tokens import TokenStore
    from snoozebot.audit import AuditLog
    from snoozebot.state import LoadedSet
    from snoozebot.store import open_store

    LoadedSet(state_directory).names()
    store = open_store(state_directory, config)
    audit = AuditLog(store)
    audit.entries(limit=1)
    audit.finish([])  # an empty transaction: the log can be written
    return bool(TokenStore(state_directory, store).list())


def serve(options: ServeOptions, *, config: Config, state_directory: Path) -> None:
    """Serve until SIGINT or SIGTERM; every worker is stopped before this returns."""
    import uvicorn

    from snoozebot.agent.access_log import log_config
    from snoozebot.agent.app import create_app
    from snoozebot.agent.protocol import KEEP_ALIVE_TIMEOUT, GuardedHttpToolsProtocol

    has_tokens = check_state(state_directory, config)  # damaged state: one line, exit 3, before listening
    if options.schedule_every:
        from snoozebot.schedule import load_schedules

        load_schedules(config.table("schedules"), source=str(config.path or "config"))  # bad: exit 2
    sock = bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    app = create_app(
        config=config,
        state_directory=state_directory,
        timeout=options.timeout,
        threads=options.threads,
        schedule_every=options.schedule_every,
    )
    if not _is_loopback(options.host):
        log.warning("listening on %s, beyond this machine, without TLS: put a TLS proxy in front", host)
    if not has_tokens:
        log.warning("no tokens yet: create one with: snoozebot agent token create --role admin --name NAME")
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=GuardedHttpToolsProtocol,
            ws="none",
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
            log_config=log_config(),
            log_level="info",
            access_log=options.access_log,
            timeout_graceful_shutdown=int(GRACE_SECONDS),
            server_header=False,
            proxy_headers=False,
            lifespan="on",
        )
    )
    scheme_host = f"[{host}]" if ":" in host else host
    logging.getLogger("uvicorn.error").info("snoozebot agent listening on http://%s:%d", scheme_host, port)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with sock:
            server.run(sockets=[sock])
    except _Terminated:
        pass  # uvicorn re-raises SIGTERM after its graceful shutdown: a normal end
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise SnoozebotError("the agent failed to start; see the messages above")
