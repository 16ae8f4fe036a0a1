"""The instances page shows overrides and lets operators snooze an instance: the web UI over plain
HTTP (no script) against a real agent, signed in with real tokens."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest
from test_ui_harness import UiAgent, ui_agent


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiAgent]:
    with ui_agent(tmp_path_factory.mktemp("ui-snooze")) as running:
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
        client.post("/ui/login", data={"nonce": _hidden(form.text, "nonce"), "token": agent.token(role)})
        yield client


def _snooze_notes(home: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(home / "audit.sqlite3")) as db:
        return db.execute("SELECT instance, action, actor FROM attempts WHERE source = 'snooze' ORDER BY id").fetchall()


def test_an_operator_snoozes_from_the_instances_page_and_sees_the_override(agent: UiAgent) -> None:
    with _signed_in(agent, "operator") as client:
        page = client.get("/ui/instances?provider=memory")
        assert "Overrides" in page.text and "No snooze, postponed or skipped stop" in page.text
        form = {"csrf": _hidden(page.text, "csrf"), "provider": "memory", "instance_id": "mem-2",
                "length": "2h", "back": ""}
        assert client.post("/ui/instances/snooze", data={**form, "csrf": "forged"}).status_code == 403
        done = client.post("/ui/instances/snooze", data=form)
        assert done.status_code == 303 and done.headers["location"] == "/ui/instances?provider=memory"
        page = client.get(done.headers["location"])
        assert "mem-2: snoozed until" in page.text  # the notice
        assert re.search(r'<span class="mono id">mem-2</span>: snoozed until \S+ \(by operator\)', page.text)
        assert _snooze_notes(agent.agent.home) == [("mem-2", "snooze", "operator")]
        cleared = client.post("/ui/instances/snooze", data={**form, "length": "clear"})
        assert cleared.status_code == 303
        assert "No snooze, postponed or skipped stop" in client.get("/ui/instances?provider=memory").text
        assert _snooze_notes(agent.agent.home)[-1] == ("mem-2", "unsnooze", "operator")


def test_a_viewer_sees_overrides_but_cannot_snooze(agent: UiAgent) -> None:
    with _signed_in(agent, "viewer") as client:
        page = client.get("/ui/instances?provider=memory")
        assert "Overrides" in page.text and 'action="/ui/instances/snooze"' not in page.text
        refused = client.post("/ui/instances/snooze", data={"csrf": _hidden(page.text, "csrf"),
                                                             "provider": "memory", "instance_id": "mem-0", "length": "1h"})
        assert refused.status_code == 403
