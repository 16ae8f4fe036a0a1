"""``--wait``: poll instances until they report the state an action aims for.

Independent of where the instances come from: it takes a function that
reads one instance, so a local worker or a remote agent can feed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from snoozebot.sdk import Instance, InstanceState, ProviderError

__all__ = ["WaitTimeout", "Waited", "target_states", "wait_for"]

GetInstance = Callable[[str], Instance]
"""Reads one instance as it is now."""
OnSettled = Callable[[str, "Instance | Exception"], None]
"""Called once per instance as soon as it settled (or failed)."""

_FIRST_POLL = 0.2
_MAX_POLL = 2.0
_POLL_THREADS = 8


class WaitTimeout(ProviderError):
    """The instance did not reach the target state within the wait's timeout."""

    code = "wait_timeout"


class WaitFailed(ProviderError):
    """The instance reached a state it will not leave for the target (terminated)."""

    code = "wait_failed"


Waited = dict[str, "Instance | Exception"]
"""Per id: the instance in its target state, or why waiting for it failed."""


def target_states(action: str, *, hibernate: bool = False) -> frozenset[InstanceState]:
    """The states that end a wait: stopped (or suspended, for hibernate), or running."""
    if action == "stop":
        if hibernate:
            return frozenset({InstanceState.STOPPED, InstanceState.SUSPENDED})
        return frozenset({InstanceState.STOPPED})
    return frozenset({InstanceState.RUNNING})


def wait_for(
    get: GetInstance,
    instance_ids: Iterable[str],
    targets: frozenset[InstanceState],
    *,
    timeout: float,
    on_settled: OnSettled | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Waited:
    """Poll every id (concurrently, with growing pauses) until it is in ``targets``.

    A terminated instance or a read error other than a timeout ends the wait
    for that id; ids still not there after ``timeout`` seconds get a
    :class:`WaitTimeout` naming the state they were last seen in.
    """
    pending = list(dict.fromkeys(instance_ids))
    last: dict[str, str] = {}
    done: Waited = {}
    deadline = clock() + timeout
    pause = _FIRST_POLL

    def settle(iid: str, value: Instance | Exception) -> None:
        done[iid] = value
        if on_settled is not None:
            on_settled(iid, value)

    pool = ThreadPoolExecutor(max_workers=_POLL_THREADS)
    try:
        while pending:
            seen = list(zip(pending, pool.map(lambda iid: _read(get, iid), pending), strict=True))
            pending = []
            for iid, value in seen:
                if isinstance(value, Exception) or value.state in targets:
                    settle(iid, value)
                elif value.state is InstanceState.TERMINATED and InstanceState.TERMINATED not in targets:
                    settle(iid, WaitFailed(f"instance {iid} is {value.raw_state or value.state.value}"))
                else:
                    last[iid] = value.raw_state or value.state.value
                    pending.append(iid)
            if not pending:
                break
            remaining = deadline - clock()
            if remaining <= 0:
                for iid in pending:
                    settle(iid, WaitTimeout(f"instance {iid} still {last[iid]} after {timeout:g}s"))
                break
            sleep(min(pause, remaining))
            pause = min(_MAX_POLL, pause * 2)
    finally:
        # On Ctrl-C do not wait for calls in flight: the runtime stops the workers.
        pool.shutdown(wait=False, cancel_futures=True)
    return done


def _read(get: GetInstance, instance_id: str) -> Instance | Exception:
    try:
        return get(instance_id)
    except ProviderError as exc:
        return exc
