"""The REST API against a real agent (uvicorn on loopback, real workers), with httpx.

Every endpoint under every role, bad bodies, error mapping, audit and metrics. The module
shares one agent per backend: the tests marked ``both_backends`` (tokens, roles, audit) run
against one on SQLite and one on PostgreSQL, the others against the SQLite one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from state_rows import select, token_records
from test_agent_harness import Agent, running_agent

from snoozebot import sdk
from snoozebot.agent.errors import api_error_for
from snoozebot.errors import PluginCrashed, PluginNotFound, PluginTimeout, UsageError

CONFIG = """
[providers.memory]
count = "4"
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, module_backend: tuple[str, str | None]) -> Iterator[Agent]:
    base = tmp_path_factory.mktemp("agent")
    home = base / "home"
    home.mkdir()
    config = base / "config.toml"
    config.write_text(CONFIG)
    with running_agent(home, config, timeout=10) as running:
        with running.client() as client:
            assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        yield running


def _call(agent: Agent, who: str | None, method: str, path: str, body: Any = None) -> httpx.Response:
    headers = agent.headers(who) if who != "bogus" else {"Authorization": "Bearer sbt_0123456789ab_" + "x" * 43}
    return httpx.request(method, agent.url + path, json=body, headers=headers, timeout=30)


# (method, path, body, least role, status for that role and above)
ENDPOINTS: list[tuple[str, str, Any, str, int]] = [
    ("GET", "/api/plugins", None, "viewer", 200),
    ("GET", "/api/plugins/discover", None, "viewer", 200),
    ("GET", "/api/plugins/memory", None, "viewer", 200),
    ("POST", "/api/plugins/load", {"plugin": "memory"}, "admin", 200),
    ("POST", "/api/plugins/unload", {"plugin": "noisy"}, "admin", 200),
    ("GET", "/api/providers/memory/instances", None, "viewer", 200),
    ("GET", "/api/providers/memory/instances/mem-1", None, "viewer", 200),
    ("POST", "/api/providers/memory/instances/mem-1/stop", {"dry_run": True}, "operator", 200),
    ("POST", "/api/providers/memory/instances/mem-1/start", {"dry_run": True}, "operator", 200),
    ("GET", "/api/tokens", None, "admin", 200),
    ("DELETE", "/api/tokens/nobody", None, "admin", 404),
    ("GET", "/metrics", None, "viewer", 200),
    ("GET", "/openapi.json", None, "viewer", 200),
]
RANKS = {"viewer": 0, "operator": 1, "admin": 2}


@pytest.mark.parametrize(("method", "path", "body", "least", "ok"), ENDPOINTS)
@pytest.mark.both_backends
def test_every_endpoint_under_every_role(
    agent: Agent, method: str, path: str, body: Any, least: str, ok: int
) -> None:
    for who in (None, "bogus", "viewer", "operator", "admin"):
        response = _call(agent, who, method, path, body)
        expected = 401 if who in (None, "bogus") else ok if RANKS[who] >= RANKS[least] else 403
        assert response.status_code == expected, (who, response.text)
        if expected >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"], response.text
        if expected == 401:
            assert response.headers["www-authenticate"] == "Bearer"


def test_healthz_needs_no_token(agent: Agent) -> None:
    assert httpx.get(agent.url + "/healthz").json() == {"status": "ok"}


def test_no_docs_pages_without_a_token(agent: Agent) -> None:
    assert httpx.get(agent.url + "/docs").status_code == 404
    assert httpx.get(agent.url + "/openapi.json").status_code == 401


def test_loaded_plugins_and_status(agent: Agent) -> None:
    with agent.client("viewer") as client:
        loaded = client.get("/api/plugins").json()
        assert [p["name"] for p in loaded] == ["memory"]
        assert loaded[0]["loaded"] is True and loaded[0]["status"] == "running" and loaded[0]["pid"]
        installed = {p["name"]: p for p in client.get("/api/plugins/discover").json()}
        assert {"memory", "crashy", "hangy", "broken"} <= set(installed)
        assert installed["crashy"]["loaded"] is False
        info = client.get("/api/plugins/memory").json()
        assert info["plugin_version"] == "1.0.0" and info["api_version"] == "1.0"


def test_instances_list_filter_and_info(agent: Agent) -> None:
    with agent.client("viewer") as client:
        everything = client.get("/api/providers/memory/instances").json()
        assert [i["id"] for i in everything] == ["mem-0", "mem-1", "mem-2", "mem-3"]
        ml = client.get("/api/providers/memory/instances", params={"filter": "team=ml"}).json()
        assert [i["id"] for i in ml] == ["mem-1", "mem-3"]
        both = client.get(
            "/api/providers/memory/instances", params=[("filter", "team=ml"), ("filter", "snoozebot-schedule=x")]
        ).json()
        assert both == []
        one = client.get("/api/providers/memory/instances/mem-2").json()
        assert one["state"] == "running" and one["launch_time"] == "2026-01-01T00:00:00+00:00"


def test_ids_with_slashes_reach_the_provider(agent: Agent) -> None:
    with agent.client("operator") as client:
        response = client.get("/api/providers/memory/instances/europe-west1-b/vm-1")
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "instance_not_found",
            "message": "instance europe-west1-b/vm-1 not found",
            "cloud_code": "NotFound",
        }
        stop = client.post("/api/providers/memory/instances/rg/vm/stop", json={})
        assert stop.status_code == 404
        assert stop.json()["error"] == {
            "code": "instance_not_found",
            "message": "instance rg/vm not found",
            "cloud_code": "NotFound",  # the cloud's own code survives the audited batch call
        }


@pytest.mark.both_backends
def test_stop_and_start_are_audited_with_the_token_name(agent: Agent) -> None:
    with agent.client("operator") as client:
        stopped = client.post("/api/providers/memory/instances/mem-3/stop", json={"hibernate": True})
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["ok"] is True and stopped.json()["state"] == "suspended"
        assert client.get("/api/providers/memory/instances/mem-3").json()["state"] == "suspended"
        started = client.post("/api/providers/memory/instances/mem-3/start")  # no body at all
        assert started.status_code == 200 and started.json()["instance"]["state"] == "running"
    rows = select(
        agent.home, "SELECT actor, source, action, result, state FROM attempts WHERE instance = 'mem-3' ORDER BY id"
    )
    assert rows == [
        ("operator", "agent", "stop", "ok", "suspended"),
        ("operator", "agent", "start", "ok", "running"),
    ]


@pytest.mark.parametrize(
    ("path", "content", "headers", "status", "code"),
    [
        ("/api/plugins/load", b'{"plugin":', {"Content-Type": "application/json"}, 400, "malformed_json"),
        ("/api/plugins/load", b"[1, 2]", {"Content-Type": "application/json"}, 422, "invalid_request"),
        ("/api/plugins/load", b'{"plugin": 5}', {"Content-Type": "application/json"}, 422, "invalid_request"),
        ("/api/plugins/load", b'{"plugin": ""}', {"Content-Type": "application/json"}, 422, "invalid_request"),
        ("/api/plugins/load", b'{"plugin": "memory", "x": 1}', {"Content-Type": "application/json"}, 422,
         "invalid_request"),
        ("/api/plugins/load", b"plugin=memory", {"Content-Type": "application/x-www-form-urlencoded"}, 415,
         "unsupported_media_type"),
        ("/api/plugins/load", b"\xff\xfe", {"Content-Type": "application/json"}, 400, "malformed_json"),
        ("/api/providers/memory/instances/mem-1/stop", b'{"hibernate": "maybe"}',
         {"Content-Type": "application/json"}, 422, "invalid_request"),
        ("/api/providers/memory/instances/mem-1/stop", b'{"dry_run": true}', {"Content-Type": "application/json"},
         200, None),
        ("/api/tokens", b'{"name": "a b", "role": "viewer"}', {"Content-Type": "application/json"}, 422,
         "invalid_request"),
        ("/api/tokens", b'{"name": "ok", "role": "root"}', {"Content-Type": "application/json"}, 422,
         "invalid_request"),
    ],
)
def test_bad_bodies_are_4xx_json(
    agent: Agent, path: str, content: bytes, headers: dict[str, str], status: int, code: str | None
) -> None:
    response = httpx.post(agent.url + path, content=content, headers={**agent.headers("admin"), **headers})
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code


def test_bodies_over_one_mib_get_413(agent: Agent) -> None:
    big = b'{"plugin": "' + b"x" * (1024 * 1024) + b'"}'
    response = httpx.post(
        agent.url + "/api/plugins/load",
        content=big,
        headers={**agent.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(20):
            yield b" " * 65536

    streamed = httpx.post(
        agent.url + "/api/plugins/load",
        content=chunks(),
        headers={**agent.headers("admin"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "payload_too_large"
    exactly = httpx.post(
        agent.url + "/api/plugins/load",
        content=b" " * (1024 * 1024 - 20) + b'{"plugin":"memory"}',
        headers={**agent.headers("admin"), "Content-Type": "application/json"},
    )
    assert exactly.status_code == 200, exactly.text


def test_error_mapping(agent: Agent) -> None:
    with agent.client("admin") as client:
        unknown = client.get("/api/providers/nope/instances")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "plugin_not_found"
        assert client.get("/api/plugins/nope").status_code == 404
        assert client.post("/api/plugins/load", json={"plugin": "nope"}).status_code == 404
        not_loaded = client.get("/api/providers/noisy/instances/x")
        assert not_loaded.status_code == 409
        assert not_loaded.json()["error"] == {
            "code": "not_loaded",
            "message": "provider 'noisy' is installed but not loaded; an admin can POST /api/plugins/load",
            "plugin": "noisy",
        }
        broken = client.post("/api/plugins/load", json={"plugin": "broken"})
        assert broken.status_code == 503 and broken.json()["error"]["code"] == "plugin_load_error"
        assert "snoozebot_fixture_missing_dependency" in broken.json()["error"]["message"]
        future = client.post("/api/plugins/load", json={"plugin": "future"})
        assert future.status_code == 503 and future.json()["error"]["code"] == "plugin_incompatible"
        bad_filter = client.get("/api/providers/memory/instances", params={"filter": "novalue"})
        assert bad_filter.status_code == 422 and "KEY=VALUE" in bad_filter.json()["error"]["message"]
        assert client.get("/nowhere").json()["error"]["code"] == "not_found"
        wrong_method = client.delete("/api/plugins")
        assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.both_backends
def test_tokens_over_the_api(agent: Agent) -> None:
    with agent.client("admin") as admin:
        created = admin.post("/api/tokens", json={"name": "ci", "role": "viewer"})
        assert created.status_code == 201
        token = created.json()["token"]
        assert {"admin", "ci"} <= {r["name"] for r in token_records(agent.home)}  # the store the agent uses
        assert admin.post("/api/tokens", json={"name": "ci", "role": "admin"}).status_code == 409
        listed = admin.get("/api/tokens").json()
        assert {"name": "ci", "role": "viewer"} in [{k: t[k] for k in ("name", "role")} for t in listed]
        assert all("token" not in t and "hash" not in t for t in listed)
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(agent.url + "/api/plugins", headers=headers).status_code == 200
        assert admin.delete("/api/tokens/ci").status_code == 200
        assert httpx.get(agent.url + "/api/plugins", headers=headers).status_code == 401
    stored = json.dumps(token_records(agent.home))
    assert token not in stored and "sbt_" not in stored and '"name": "ci"' not in stored


@pytest.mark.both_backends
def test_tokens_never_reach_the_log(agent: Agent) -> None:
    for token in agent.tokens.values():
        assert token not in agent.stderr


def test_metrics(agent: Agent) -> None:
    with agent.client("admin") as admin:  # its own unload: under xdist, this module's agent may be another
        assert admin.post("/api/plugins/unload", json={"plugin": "noisy"}).status_code == 200
    with agent.client("viewer") as client:
        client.get("/api/providers/memory/instances/mem-0")
        client.post("/api/plugins/load", json={"plugin": "memory"})  # 403 for a viewer
        text = client.get("/metrics").text
    assert 'snoozebot_plugin_loads_total{plugin="memory",result="ok"}' in text
    assert 'snoozebot_plugin_unloads_total{plugin="noisy"}' in text
    assert 'snoozebot_plugin_crashes_total{plugin="memory"} 0.0' in text
    assert 'snoozebot_plugin_restarts_total{plugin="memory"} 0.0' in text
    assert 'snoozebot_rpc_duration_seconds_count{method="get_instance_info",provider="memory",result="ok"}' in text
    assert (
        'snoozebot_http_requests_total{method="POST",route="/api/plugins/load",status="403"}' in text
    )
    assert 'route="/api/providers/{provider}/instances/{instance_id:path}"' in text
    assert "mem-0" not in text  # raw paths never become labels


def test_openapi_documents_bodies_and_security(agent: Agent) -> None:
    schema = httpx.get(agent.url + "/openapi.json", headers=agent.headers("viewer")).json()
    paths = schema["paths"]
    for path in (
        "/api/plugins",
        "/api/plugins/discover",
        "/api/plugins/load",
        "/api/plugins/unload",
        "/api/plugins/{name}",
        "/api/providers/{provider}/instances",
        "/api/providers/{provider}/instances/{instance_id}",
        "/api/providers/{provider}/instances/{instance_id}/stop",
        "/api/providers/{provider}/instances/{instance_id}/start",
        "/healthz",
        "/metrics",
    ):
        assert path in paths, path
    load = paths["/api/plugins/load"]["post"]
    assert load["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PluginRequest")
    assert "409" in paths["/api/providers/{provider}/instances/{instance_id}"]["get"]["responses"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_unload_then_calls_answer_409(tmp_path: Path, isolated_home: Path) -> None:
    config = tmp_path / "config.toml"
    with running_agent(isolated_home, config) as agent, agent.client() as client:
        assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        pid = client.get("/api/plugins/memory").json()["pid"]
        unloaded = client.post("/api/plugins/unload", json={"plugin": "memory"}).json()
        assert unloaded["loaded"] is False and unloaded["pid"] is None
        assert client.get("/api/providers/memory/instances").status_code == 409
        assert client.get("/api/plugins").json() == []
        import psutil

        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_rest_reference_lists_every_route(agent: Agent) -> None:
    schema = httpx.get(agent.url + "/openapi.json", headers=agent.headers("viewer")).json()
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rest.md").read_text()
    for path, methods in schema["paths"].items():
        for method in methods:
            documented = f"`{method.upper()} {path.replace('{instance_id}', '{id}')}"
            assert documented in doc, f"docs/rest.md does not list {documented}`"


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (sdk.InstanceNotFound("gone", cloud_code="InvalidInstanceID.NotFound"), 404, "instance_not_found"),
        (sdk.InvalidInstanceState("terminated", cloud_code="IncorrectInstanceState"), 502, "invalid_instance_state"),
        (sdk.PermissionDenied("no", cloud_code="UnauthorizedOperation"), 502, "permission_denied"),
        (sdk.Throttled("slow down", cloud_code="RequestLimitExceeded"), 502, "throttled"),
        (sdk.ConfigurationError("no region"), 503, "configuration_error"),
        (PluginCrashed("x", "crashed"), 503, "plugin_crashed"),
        (PluginTimeout("x", "hung"), 503, "plugin_timeout"),
        (PluginNotFound("x", "not installed"), 404, "plugin_not_found"),
        (UsageError("bad"), 400, "usage"),
    ],
)
def test_failures_map_to_statuses(exc: Exception, status: int, code: str) -> None:
    err = api_error_for(exc)
    assert (err.status, err.code) == (status, code)
    assert err.body()["error"]["message"] == str(exc)
    if isinstance(exc, sdk.ProviderError) and exc.cloud_code:
        assert err.body()["error"]["cloud_code"] == exc.cloud_code
