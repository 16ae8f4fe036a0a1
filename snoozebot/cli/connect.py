"""``snoozebot connect``: wake an instance on demand and relay a TCP connection to it.

Made to be OpenSSH's ``ProxyCommand`` (see ``docs/connect.md``): find the
instance by id or name, start it when it is stopped or suspended (locked and
audited, source ``wake``), wait until it is running and its port accepts, then
relay stdin/stdout to that connection (:mod:`snoozebot.relay`). Nothing but
the relayed bytes goes to stdout; progress goes to stderr, only when stderr is
a terminal or with ``--verbose``. The plugin workers are shut down before the
relay starts: a long session holds no worker.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Annotated

import typer

from snoozebot import sdk
from snoozebot.cli.options import ConfigOpt, LockTimeoutOpt, OptionOpt, ProviderOpt, TimeoutOpt
from snoozebot.cli.output import info
from snoozebot.config import parse_options
from snoozebot.errors import OperationFailed, UsageError
from snoozebot.host.client import ProviderClient
from snoozebot.local import LocalBackend
from snoozebot.relay import NotReachable, open_connection, relay
from snoozebot.runtime import open_runtime
from snoozebot.text import has_control, one_line
from snoozebot.waiting import WaitTimeout, wait_for

__all__ = ["ADDRESS_OPTION", "ADDRESS_TAG", "NAME_SUFFIX", "connect", "resolve_address"]

ADDRESS_OPTION = "address"
"""``-o address=HOST``: connect there, whatever the instance says."""
ADDRESS_TAG = "snoozebot-address"
"""The tag/label naming the address to connect to, before the instance's own addresses."""
NAME_SUFFIX = ".snooze"
"""Dropped from INSTANCE, so that ``Host *.snooze`` with ``%h`` names the instance."""

Say = Callable[[str], None]
"""Reports progress (or does nothing)."""

_WAKE = frozenset({sdk.InstanceState.STOPPED, sdk.InstanceState.SUSPENDED})
_SETTLING = frozenset({sdk.InstanceState.STOPPING, sdk.InstanceState.SUSPENDING})
_RUNNING = frozenset({sdk.InstanceState.RUNNING})
_STDIN, _STDOUT = 0, 1  # the descriptors themselves: no Python buffer between them and the relay


def _label(instance: sdk.Instance) -> str:
    named = instance.name and instance.name != instance.id
    return f"{instance.id} ({instance.name})" if named else instance.id


def find_instance(client: ProviderClient, value: str) -> sdk.Instance:
    """The instance ``value`` names, as read by itself: an id, else the one instance of that name.

    A value ending in ``.snooze`` is a name without that suffix. Several
    instances of the name: UsageError listing them (exit 2); none: InstanceNotFound.
    A name's instance is read again by id, since a listing may leave out what
    a read gives (Azure's addresses).
    """
    name = value.removesuffix(NAME_SUFFIX) if value.endswith(NAME_SUFFIX) else None
    if name is None:
        try:
            return client.get_instance_info(value)
        except sdk.InstanceNotFound:
            name = value
    matches = [i for i in client.list_instances({}) if i.name == name]
    if len(matches) > 1:
        ids = ", ".join(sorted(i.id for i in matches))
        raise UsageError(f"{len(matches)} {client.name} instances are named {name!r} ({ids}): give an id")
    if not matches:
        raise sdk.InstanceNotFound(f"no {client.name} instance has the id or name {name!r}")
    return client.get_instance_info(matches[0].id)


def _wait(client: ProviderClient, instance: sdk.Instance, targets: frozenset[sdk.InstanceState],
          deadline: float) -> sdk.Instance:
    waited = wait_for(client.get_instance_info, [instance.id], targets,
                      timeout=max(0.0, deadline - time.monotonic()))
    value = waited[instance.id]
    if isinstance(value, Exception):
        raise value
    return value


def wake(backend: LocalBackend, instance: sdk.Instance, *, deadline: float, say: Say) -> sdk.Instance:
    """``instance`` running, started first when stopped or suspended; as read once it runs."""
    state = instance.state
    if state is sdk.InstanceState.RUNNING:
        return instance
    if state in (sdk.InstanceState.TERMINATED, sdk.InstanceState.UNKNOWN):
        raw = instance.raw_state or state.value
        raise OperationFailed(f"instance {instance.id} is {raw}: it cannot be started")
    client = backend.provider(instance.provider)
    if state in _SETTLING:
        say(f"waiting for {_label(instance)} to finish {state.value}")
        instance = _wait(client, instance, _WAKE, deadline)
    if instance.state in _WAKE:
        say(f"starting {_label(instance)}")
        [result] = backend.act(instance.provider, "start", [instance.id], source="wake")
        if result.failure is not None:
            raise OperationFailed(f"cannot start {instance.id}: {result.failure.message}")
    say(f"waiting for {_label(instance)} to be running")
    return _wait(client, instance, _RUNNING, deadline)


def resolve_address(instance: sdk.Instance, override: str | None) -> str:
    """``-o address``, else the ``snoozebot-address`` tag, else the public, else the private address."""
    address = override or instance.tags.get(ADDRESS_TAG) or instance.public_ip or instance.private_ip
    if not address:
        raise OperationFailed(
            f"instance {instance.id} has no address: give -o {ADDRESS_OPTION}=HOST "
            f"or the tag {ADDRESS_TAG}=HOST"
        )
    return address


def connect(  # noqa: PLR0917 - Typer passes options by keyword
    instance: Annotated[
        str,
        typer.Argument(
            metavar="INSTANCE",
            help="Instance id or name (Name tag, VM name); a trailing .snooze is dropped.",
            show_default=False,
        ),
    ],
    provider: ProviderOpt,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="TCP port to connect to.")
    ] = 22,
    wait_timeout: Annotated[
        float,
        typer.Option(
            "--wait-timeout",
            metavar="SECONDS",
            min=0.1,
            help="How long to wait for the instance to run and the port to accept.",
        ),
    ] = 300,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Progress on stderr even when it is not a terminal.")
    ] = False,
    option: OptionOpt = None,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    lock_timeout: LockTimeoutOpt = None,
) -> None:
    """Start an instance if it sleeps, wait for its port, and relay stdin/stdout to it.

    Made for OpenSSH's ProxyCommand: stdout carries only the relayed bytes.
    The address is -o address=HOST, else the tag snoozebot-address, else the
    public, else the private address. A start is audited (source wake).
    Exit 0 when the remote side closes; 1 when it cannot be reached in time.

    Example: ssh -o ProxyCommand='snoozebot connect %h -p aws --port %p' devbox
    """
    value = instance.strip()
    if not value or has_control(value):
        raise UsageError(f"INSTANCE must be an id or name without control characters: {one_line(value)}")
    options = parse_options(option or [])
    override = options.pop(ADDRESS_OPTION, None)
    if override is not None and (not override.strip() or has_control(override)):
        raise UsageError(f"-o {ADDRESS_OPTION}=HOST must name a host, got '{one_line(override)}'")
    say: Say = info if verbose or sys.stderr.isatty() else lambda _text: None
    deadline = time.monotonic() + wait_timeout
    try:
        with open_runtime(
            config=config,
            options=[f"{k}={v}" for k, v in options.items()],
            timeout=timeout,
            lock_timeout=lock_timeout,
        ) as rt:
            found = find_instance(rt.backend.provider(provider), value)
            ready = wake(rt.backend, found, deadline=deadline, say=say)
        host = resolve_address(ready, override)
        say(f"connecting to {host}:{port}")
        sock = open_connection(host, port, timeout=max(0.0, deadline - time.monotonic()))
    except (WaitTimeout, NotReachable) as exc:
        raise NotReachable(f"not reachable within --wait-timeout {wait_timeout:g}s: {exc.message}") from None
    say(f"connected to {host}:{port}")
    relay(sock, input_fd=_STDIN, output_fd=_STDOUT, peer=f"{host}:{port}")
