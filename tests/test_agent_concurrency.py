"""Concurrency against a real agent: racing loads and unloads, a crashing and a hanging
plugin while other requests are served. No timing assertions: ordering only.

Marked ``both_backends``: the tests whose many concurrent requests each check a token, which
with PostgreSQL is a database round trip off the event loop.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from test_agent_harness import Agent, running_agent


@pytest.fixture
def agent(tmp_path: Path, isolated_home: Path) -> Iterator[Agent]:
    config = tmp_path / "config.toml"
    with running_agent(isolated_home, config, timeout=3) as running:
        yield running


def _workers(agent: Agent, provider: str) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(agent.process.pid).children(recursive=True):
        try:
            if child.name() == f"sb-{provider}" and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.mark.both_backends
def test_fifty_concurrent_loads_and_unloads_leave_a_consistent_state(agent: Agent) -> None:
    rng = random.Random(5)
    actions = [rng.choice(["load", "unload"]) for _ in range(50)]
    with agent.client() as client:

        def act(action: str) -> int:
            return client.post(f"/api/plugins/{action}", json={"plugin": "memory"}).status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            statuses = list(pool.map(act, actions))
        assert statuses == [200] * 50
        final = client.get("/api/plugins/memory").json()
        workers = _workers(agent, "memory")
        if final["loaded"]:
            assert final["status"] == "running"
            assert [w.pid for w in workers] == [final["pid"]]
            assert client.get("/api/providers/memory/instances/mem-0").status_code == 200
        else:
            assert workers == [] and final["pid"] is None
        # One more of each settles it both ways.
        assert act("load") == 200
        assert len(_workers(agent, "memory")) == 1
        assert client.get("/api/plugins").json()[0]["name"] == "memory"
        assert act("unload") == 200
        assert _workers(agent, "memory") == []
        assert client.get("/api/providers/memory/instances").status_code == 409
        metrics = client.get("/metrics").text
    loads = actions.count("load") + 1
    assert f'snoozebot_plugin_loads_total{{plugin="memory",result="ok"}} {loads}.0' in metrics


def test_a_crashing_plugin_does_not_disturb_other_requests(agent: Agent) -> None:
    with agent.client() as client:
        for name in ("memory", "crashy"):
            assert client.post("/api/plugins/load", json={"plugin": name}).status_code == 200
        memory_pid = client.get("/api/plugins/memory").json()["pid"]
        results: list[int] = []
        stop = threading.Event()

        def hammer() -> None:
            with agent.client("viewer") as own:
                while not stop.is_set():
                    results.append(own.get("/api/providers/memory/instances/mem-1").status_code)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            crashed = client.get("/api/providers/crashy/instances")
            crashed_stop = client.post("/api/providers/crashy/instances/mem-1/stop")
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert crashed.status_code == 503
        assert crashed.json()["error"]["code"] == "plugin_crashed"
        assert "crashy" in crashed.json()["error"]["message"]
        assert crashed_stop.status_code == 503  # restarted at once, then crashed again
        assert results and set(results) == {200}
        # The next call restarts it (the second restart of a run waits the first backoff step).
        again = client.get("/api/providers/crashy/instances/mem-2")
        assert again.status_code == 200, again.text
        status = client.get("/api/plugins/crashy").json()
        assert status["status"] == "running" and status["crashes"] >= 2
        assert client.get("/api/plugins/memory").json()["pid"] == memory_pid
        metrics = client.get("/metrics").text
    assert 'snoozebot_plugin_crashes_total{plugin="crashy"} 2.0' in metrics
    assert 'snoozebot_plugin_restarts_total{plugin="crashy"} 2.0' in metrics
    assert 'snoozebot_plugin_crashes_total{plugin="memory"} 0.0' in metrics


@pytest.mark.both_backends
def test_a_hanging_call_blocks_nothing_else(agent: Agent) -> None:
    with agent.client() as client:
        for name in ("memory", "hangy"):
            assert client.post("/api/plugins/load", json={"plugin": name}).status_code == 200
    hung: list[httpx.Response] = []
    caller = threading.Thread(
        target=lambda: hung.append(httpx.get(
            agent.url + "/api/providers/hangy/instances", headers=agent.headers("viewer"), timeout=60
        ))
    )
    caller.start()
    with agent.client("viewer") as client:
        answers = [client.get("/api/providers/memory/instances/mem-0").status_code for _ in range(20)]
        answers.append(client.get("/api/plugins").status_code)
        answers.append(client.get("/api/providers/hangy/instances/mem-0").status_code)  # same worker, other call
        still_waiting = caller.is_alive()
    caller.join(timeout=30)
    assert still_waiting, "the hung call finished before the others: the test proves nothing"
    assert answers == [200] * 22
    assert hung[0].status_code == 503
    assert hung[0].json()["error"]["code"] == "plugin_timeout"
    with agent.client("viewer") as client:
        assert client.get("/api/providers/hangy/instances/mem-0").status_code == 200  # restarted at once
