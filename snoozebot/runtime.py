"""What a command needs at run time: config, state directory, timeout, and a backend.

:func:`open_runtime` gives this machine's backend (plugin workers started
here); :func:`open_runtime_for` chooses between it and a running agent
(``--agent URL`` or ``$SNOOZEBOT_AGENT_URL``). Either way the command sees a
:class:`~snoozebot.backend.Backend` and never asks which one it holds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from snoozebot.backend import Backend
from snoozebot.config import Config, load_config, parse_options
from snoozebot.errors import UsageError
from snoozebot.host import prestart
from snoozebot.host.manager import DEFAULT_TIMEOUT, PluginManager
from snoozebot.local import LocalBackend
from snoozebot.operations import DEFAULT_LOCK_TIMEOUT, ActionContext
from snoozebot.remote import AGENT_URL_ENV
from snoozebot.state import state_dir
from snoozebot.store import open_store

__all__ = ["Runtime", "open_runtime", "open_runtime_for", "resolve_lock_timeout", "resolve_timeout"]

B_co = TypeVar("B_co", bound=Backend, covariant=True)


def resolve_timeout(timeout: float | None) -> float:
    """``--timeout``, else ``$SNOOZEBOT_TIMEOUT``, else the default."""
    if timeout is not None:
        return timeout
    env = os.environ.get("SNOOZEBOT_TIMEOUT")
    if not env:
        return DEFAULT_TIMEOUT
    try:
        value = float(env)
    except ValueError:
        raise UsageError(f"SNOOZEBOT_TIMEOUT must be a number of seconds, got {env!r}") from None
    if value <= 0:
        raise UsageError(f"SNOOZEBOT_TIMEOUT must be positive, got {env!r}")
    return value


def resolve_lock_timeout(lock_timeout: float | None) -> float:
    """``--lock-timeout``, else ``$SNOOZEBOT_LOCK_TIMEOUT``, else the default (60 s)."""
    if lock_timeout is not None:
        return lock_timeout
    text = os.environ.get("SNOOZEBOT_LOCK_TIMEOUT")
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return max(0.0, float(text))
    except ValueError:
        raise UsageError(f"SNOOZEBOT_LOCK_TIMEOUT must be a number of seconds, got {text!r}") from None


@dataclass(frozen=True)
class Runtime(Generic[B_co]):
    """Resolved settings plus the backend, which is closed (its workers stopped) on exit."""

    config: Config
    state_directory: Path
    timeout: float
    backend: B_co


@contextlib.contextmanager
def open_runtime(
    *,
    config: str | None,
    options: list[str] | None,
    timeout: float | None,
    lock_timeout: float | None = None,
) -> Iterator[Runtime[LocalBackend]]:
    """This machine's runtime; every worker it started is shut down on the way out."""
    cfg = load_config(config)
    overrides = parse_options(options or [])
    seconds = resolve_timeout(timeout)
    directory = state_dir()
    manager = PluginManager(
        config=cfg,
        state_directory=directory,
        timeout=seconds,
        option_overrides=overrides,
        prestarted=prestart.adopt(cfg, overrides),
    )
    waited = resolve_lock_timeout(lock_timeout)
    store = open_store(directory, cfg, lock_timeout=waited)
    context = ActionContext.in_directory(directory, lock_timeout=waited, store=store)
    backend = LocalBackend(manager, context)
    try:
        yield Runtime(cfg, directory, seconds, backend)
    finally:
        backend.close()


@contextlib.contextmanager
def open_runtime_for(
    agent: str | None,
    *,
    config: str | None,
    options: list[str] | None,
    timeout: float | None,
    lock_timeout: float | None = None,
) -> Iterator[Runtime[Backend]]:
    """The local runtime, or, with ``--agent``/``$SNOOZEBOT_AGENT_URL``, one whose backend is the agent.

    Through the agent, the agent's own locks and lock timeout apply.
    """
    if not (agent or os.environ.get(AGENT_URL_ENV)):
        local = open_runtime(config=config, options=options, timeout=timeout, lock_timeout=lock_timeout)
        with local as runtime:
            yield runtime
        return
    from snoozebot.remote import AgentBackend, AgentConnection, agent_url

    url = agent_url(agent)
    assert url is not None
    if options:
        raise UsageError(
            "-o/--option does not apply through the agent: it uses its own [providers.NAME] config"
        )
    seconds = resolve_timeout(timeout)
    backend = AgentBackend(AgentConnection.from_environment(url, timeout=seconds))
    try:
        yield Runtime(Config(), state_dir(), seconds, backend)
    finally:
        backend.close()
