"""The web UI over plain HTTP (httpx, no script) against a real agent: headers, cookies, CSRF, roles.

What a browser-less client sees: every answer carries the security headers,
the forms work without JavaScript (the server asks for confirmation on a
page), and a revoked token ends a session at once. The module shares one agent per backend:
the tests marked ``both_backends`` (sessions, sign-in, revocation, an audited stop) run against
one on SQLite (sessions in its memory) and one on PostgreSQL (sessions in a table).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from conftest import run_cli
from state_rows import select
from test_ui_harness import UiAgent, seed_instances, ui_agent

from snoozebot.agent.tokens import CHECK_SECONDS
from snoozebot.agent.ui.render import SECURITY_HEADERS


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, module_backend: tuple[str, str | None]) -> Iterator[UiAgent]:
    with ui_agent(tmp_path_factory.mktemp("ui-http")) as running:
        running.ensure_loaded("memory")
        yield running


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field"
    return match.group(1)


@contextmanager
def _signed_in(agent: UiAgent, role: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=agent.url, timeout=20) as client:
        form = client.get("/ui/login")
        answer = client.post("/ui/login", data={"nonce": _hidden(form.text, "nonce"), "token": agent.token(role)})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui"
        yield client


@pytest.mark.both_backends
def test_every_ui_answer_carries_the_security_headers(agent: UiAgent) -> None:
    with _signed_in(agent, "viewer") as client:
        for path in ("/ui", "/ui/plugins", "/ui/instances", "/ui/instances/rows", "/ui/history",
                     "/ui/static/ui.css", "/ui/static/ui.js", "/ui/static/nope.js", "/ui/login"):
            answer = client.get(path)
            for name, value in SECURITY_HEADERS.items():
                assert answer.headers.get(name) == value, (path, name)
        assert client.get("/ui/static/ui.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/ui/static/nope.js").status_code == 404
        assert client.get("/ui/history").headers["cache-control"] == "no-store"
    anonymous = httpx.get(f"{agent.url}/ui/history?provider=x", timeout=20)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/ui/login?next=%2Fui%2Fhistory%3Fprovider%3Dx"
    assert anonymous.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.both_backends
def test_the_session_cookie_is_httponly_strict_and_holds_no_token(agent: UiAgent) -> None:
    with httpx.Client(base_url=agent.url, timeout=20) as client:
        form = client.get("/ui/login")
        login_cookie = form.headers["set-cookie"]
        assert "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie and "Path=/ui" in login_cookie
        answer = client.post("/ui/login", data={"nonce": _hidden(form.text, "nonce"), "token": agent.token("admin")})
        cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("snoozebot_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
        assert agent.token("admin") not in cookie
        assert agent.token("admin") not in client.get("/ui/plugins").text


def test_sign_in_needs_the_forms_own_nonce(agent: UiAgent) -> None:
    with httpx.Client(base_url=agent.url, timeout=20) as client:
        nothing = client.post("/ui/login", data={"token": agent.token("admin")})
        assert nothing.status_code == 403 and "snoozebot_session" not in nothing.headers.get("set-cookie", "")
        client.get("/ui/login")
        other = client.post("/ui/login", data={"nonce": "made-up", "token": agent.token("admin")})
        assert other.status_code == 403
        assert "This sign-in form expired" in other.text


def test_sign_in_never_redirects_off_the_ui(agent: UiAgent) -> None:
    with httpx.Client(base_url=agent.url, timeout=20) as client:
        form = client.get("/ui/login", params={"next": "//evil.example/ui"})
        assert _hidden(form.text, "next") == "/ui"
        answer = client.post("/ui/login", data={
            "nonce": _hidden(form.text, "nonce"), "token": agent.token("viewer"), "next": "https://evil.example",
        })
        assert answer.headers["location"] == "/ui"


@pytest.mark.both_backends
def test_without_javascript_the_server_asks_for_confirmation(agent: UiAgent) -> None:
    agent.write_instances(seed_instances())
    with _signed_in(agent, "operator") as client:
        csrf = _hidden(client.get("/ui/instances").text, "csrf")
        fields = {"csrf": csrf, "provider": "memory", "instance_id": "mem-0", "action": "stop",
                  "label": "build-server", "back": "state=running"}
        asked = client.post("/ui/instances/action", data=fields)
        assert asked.status_code == 200 and "Stop build-server (memory)?" in asked.text
        assert agent.instances()["mem-0"]["state"] == "running"
        done = client.post("/ui/instances/action", data={**fields, "confirmed": _hidden(asked.text, "confirmed")})
        assert done.status_code == 303
        assert done.headers["location"] == "/ui/instances?provider=memory&state=running"
        assert agent.instances()["mem-0"]["state"] == "stopped"
        audited = select(agent.agent.home, "SELECT actor, source, action, result FROM attempts WHERE instance = 'mem-0'")
        assert audited[-1:] == [("operator", "agent", "stop", "ok")]  # under the session's token name
        page = client.get(done.headers["location"]).text
        assert "build-server: stop requested; the table shows its state as the cloud reports it." in page
        bogus = client.post("/ui/instances/action", data={**fields, "action": "terminate", "confirmed": "yes"})
        assert bogus.status_code == 403


@pytest.mark.both_backends
def test_a_revoked_token_ends_its_session_at_once(agent: UiAgent, state_backend: str) -> None:
    env = {"SNOOZEBOT_HOME": str(agent.agent.home)}
    made = run_cli("agent", "token", "create", "--role", "operator", "--name", "temp", env=env)
    assert made.returncode == 0, made.stderr
    with httpx.Client(base_url=agent.url, timeout=20) as client:
        form = client.get("/ui/login")
        client.post("/ui/login", data={"nonce": _hidden(form.text, "nonce"), "token": made.stdout.strip()})
        assert client.get("/ui/instances").status_code == 200
        assert run_cli("agent", "token", "revoke", "temp", env=env).returncode == 0
        if state_backend == "postgresql":
            time.sleep(CHECK_SECONDS)  # a table's answer for one token is reused that long
        gone = client.get("/ui/instances")
        assert gone.status_code == 303
        assert gone.headers["location"] == "/ui/login?next=%2Fui%2Finstances&notice=revoked"
        assert "its token was revoked" in client.get(gone.headers["location"]).text


@pytest.mark.both_backends
def test_sign_out_needs_the_csrf_token_and_ends_the_session(agent: UiAgent) -> None:
    with _signed_in(agent, "viewer") as client:
        assert client.post("/ui/logout", data={}).status_code == 403
        csrf = _hidden(client.get("/ui").text, "csrf")
        out = client.post("/ui/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/ui/login?notice=signed-out"
        assert client.get("/ui").status_code == 303


def test_the_ui_is_not_part_of_the_rest_api_schema(agent: UiAgent) -> None:
    with agent.agent.client("viewer") as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert paths and not [p for p in paths if p.startswith("/ui")]


def _plugin_badge(html: str, name: str) -> str:
    row = html.split(f'data-plugin="{name}"', 1)[1].split("</tr>", 1)[0]
    match = re.search(r'class="badge [^"]*">([^<]+)<', row)
    assert match, row
    return match.group(1)


def test_a_crashing_plugin_shows_its_error_and_restarting(agent: UiAgent) -> None:
    agent.ensure_loaded("crashy")
    try:
        with _signed_in(agent, "viewer") as client:
            page = client.get("/ui/instances", params={"provider": "crashy"})
            assert page.status_code == 200
            assert re.search(r'class="notice error" role="alert">[^<]*crashy[^<]*', page.text)
            plugins = client.get("/ui/plugins").text
            assert _plugin_badge(plugins, "crashy") == "restarting"
            assert _plugin_badge(plugins, "memory") == "healthy"
            overview = client.get("/ui").text
            assert "crashy" in overview and 'class="notice error"' in overview  # its card says why
    finally:
        agent.ensure_loaded("crashy", loaded=False)


def test_the_zone_column_shows_the_zone_never_the_region(agent: UiAgent) -> None:
    agent.write_instances({
        "vm-zoned": {"state": "running", "name": "zoned", "region": "westeurope", "zone": "westeurope-2"},
        "vm-regional": {"state": "running", "name": "regional", "region": "westeurope", "zone": ""},
    }, provider="cloudy")
    agent.ensure_loaded("cloudy")
    with _signed_in(agent, "viewer") as client:
        rows = client.get("/ui/instances/rows", params={"provider": "cloudy"}).text
    zones = dict(re.findall(r'<tr data-id="([^"]+)".*?<td data-label="Zone"[^>]*>([^<]*)</td>', rows, flags=re.S))
    assert zones == {"vm-zoned": "westeurope-2", "vm-regional": "–"}
