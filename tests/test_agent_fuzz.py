"""Fuzz the agent's own OpenAPI schema with schemathesis: no 5xx for any generated input.

Valid (positive) and invalid (negative) requests for every operation, with an
admin token so they reach the handlers, and once more with `provider` pinned to
the loaded `memory` provider so instance calls reach a real worker. Bounded:
a few dozen examples per operation and mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from test_agent_harness import Agent, running_agent

MAX_EXAMPLES = 20


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    base = tmp_path_factory.mktemp("fuzz")
    home = base / "home"
    home.mkdir()
    (base / "config.toml").write_text("")
    with running_agent(home, base / "config.toml", timeout=5) as running:
        with running.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        yield running


@pytest.fixture(scope="module")
def schema(agent: Agent) -> Any:
    raw = httpx.get(agent.url + "/openapi.json", headers=agent.headers("viewer")).json()
    return schemathesis.openapi.from_dict(raw)


def _fuzz(agent: Agent, operation: Any, mode: GenerationMode, path_parameters: dict[str, str] | None) -> None:
    seen: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def check(case: Any) -> None:
        response = case.call(base_url=agent.url, headers=agent.headers("admin"), timeout=30)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
        if response.status_code >= 400:
            assert response.json()["error"]["code"], response.text

    try:
        check()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to make invalid (e.g. GET /healthz)
        return
    assert seen


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_5xx_for_generated_requests(agent: Agent, schema: Any, mode: GenerationMode) -> None:
    operations = _operations(schema)
    assert len(operations) >= 14
    for operation in operations:
        _fuzz(agent, operation, mode, None)
        if "provider" in {p.name for p in operation.path_parameters}:
            _fuzz(agent, operation, mode, {"provider": "memory"})


def test_the_agent_still_serves_after_fuzzing(agent: Agent, schema: Any) -> None:
    with agent.client("viewer") as client:
        assert client.get("/api/providers/memory/instances").status_code == 200
        text = client.get("/metrics").text
    assert 'status="500"' not in text
    assert "internal error" not in agent.stderr
