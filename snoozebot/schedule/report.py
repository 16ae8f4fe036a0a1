"""``idle check --report``: send a check's verdict and readings where ``schedule run`` will see them.

With an agent (``--agent URL`` or ``$SNOOZEBOT_AGENT_URL``, token in
``$SNOOZEBOT_TOKEN``, a ``reporter`` role is enough) the report is posted to
``POST /api/instances/{provider}/{id}/activity`` (docs/rest.md); without
one it is recorded in the state store (the state directory's, or the
database every machine shares, docs/shared-state.md). Agent answers map to exit
codes as for every agent call (docs/agent.md): a refused token is 2, an
instance the agent's provider does not know is 1, an unreachable agent is 3.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from snoozebot.config import Config
from snoozebot.remote import AgentConnection, agent_url
from snoozebot.schedule.activity import ActivityReport, ActivityStore
from snoozebot.state import state_dir

__all__ = ["activity_path", "send_report"]


def activity_path(provider: str, instance_id: str) -> str:
    """The REST path of an instance's activity (ids may hold ``/``)."""
    return f"/api/instances/{quote(provider, safe='')}/{quote(instance_id, safe='/')}/activity"


def send_report(
    *,
    provider: str,
    instance_id: str,
    idle: bool,
    idle_since: dt.datetime | None,
    readings: dict[str, Any],
    agent: str | None,
    timeout: float,
    config: Config,
) -> str:
    """Report to the agent, or into the state store of ``config`` without one; returns where it went."""
    url = agent_url(agent)
    if url is None:
        from snoozebot.store import open_store

        report = ActivityReport(provider, instance_id, dt.datetime.now(dt.UTC), idle, readings, idle_since)
        directory = state_dir()
        store = ActivityStore.in_directory(directory, store=open_store(directory, config))
        store.record(report)
        return store.store.where
    body = {"idle": idle, "idle_since": idle_since.isoformat() if idle_since else None, "readings": readings}
    connection = AgentConnection.from_environment(url, timeout=timeout)
    try:
        connection.request("POST", activity_path(provider, instance_id), json=body)
    finally:
        connection.close()
    return url
