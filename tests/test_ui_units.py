"""The web UI's pure parts: sessions, CSRF comparison, what the pages show, templates, bounded calls."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import pytest

from snoozebot import sdk
from snoozebot.agent.errors import ApiError
from snoozebot.agent.ui.calls import SingleFlight, bounded
from snoozebot.agent.ui.pages_auth import _safe_next
from snoozebot.agent.ui.render import CONTENT_SECURITY_POLICY, TEMPLATES, environment
from snoozebot.agent.ui.session import SessionStore, same_secret
from snoozebot.agent.ui.views import InstanceFilter, actions_for, plugin_row, state_counts
from snoozebot.errors import PluginCrashed, PluginIncompatible, PluginLoadError
from snoozebot.host.manager import PluginStatus
from snoozebot.host.supervisor import RestartPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_when_idle_and_when_old() -> None:
    clock = Clock()
    store = SessionStore(idle_seconds=10, max_seconds=25, clock=clock)
    session = store.create("sbt_token")
    assert "sbt_token" not in repr(session)
    for _ in range(2):
        clock.now += 9
        assert store.get(session.id) is session  # each request restarts the idle timer
    clock.now += 11
    assert store.get(session.id) is None
    assert len(store) == 0

    kept = store.create("t")
    for _ in range(3):
        clock.now += 9
        store.get(kept.id)
    assert store.get(kept.id) is None  # 27 s old: over the maximum, however busy


def test_sessions_are_bounded_and_end_on_sign_out() -> None:
    clock = Clock()
    store = SessionStore(max_sessions=3, clock=clock)
    made = []
    for i in range(3):
        clock.now += 1
        made.append(store.create(f"t{i}"))
    clock.now += 1
    store.get(made[0].id)  # the first is now the most recently seen
    store.create("t3")
    assert len(store) == 3
    assert store.get(made[1].id) is None  # the least recently seen went
    assert store.get(made[0].id) is not None
    store.end(made[0].id)
    assert store.get(made[0].id) is None
    assert store.get(None) is None and store.get("") is None
    ids = {s.id for s in made} | {s.csrf for s in made}
    assert len(ids) == 6 and all(len(x) >= 40 for x in ids)


def test_notices_are_shown_once() -> None:
    session = SessionStore().create("t")
    session.notify("ok", "done")
    assert session.take_notices() == [("ok", "done")]
    assert session.take_notices() == []


def test_secrets_compare_whole_and_never_empty() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", "ab")
    assert not same_secret("abc", None)
    assert not same_secret("", "")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/plugins", "/ui/plugins"),
        ("/ui/instances?provider=aws&q=x", "/ui/instances?provider=aws&q=x"),
        ("//evil.example/ui", "/ui"),
        ("https://evil.example/ui", "/ui"),
        ("/api/tokens", "/ui"),
        ("/ui\\evil", "/ui"),
        ("/ui\r\nSet-Cookie: x=1", "/ui"),
        ("", "/ui"),
        (None, "/ui"),
    ],
)
def test_sign_in_only_returns_to_pages_of_the_ui(target: str | None, expected: str) -> None:
    assert _safe_next(target) == expected


def _status(**changes: object) -> PluginStatus:
    base = {"name": "aws", "distribution": "snoozebot", "version": "1", "target": "m:C", "loaded": True,
            "error": None}
    return PluginStatus(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "failure", "display"),
    [
        (_status(status="running", pid=12), None, "healthy"),
        (_status(status="not started"), None, "idle"),
        (_status(status="crashed", restarts=1), None, "restarting"),
        (_status(status="crashed", restarts=RestartPolicy().restart_limit), None, "crashed"),
        (_status(status="not started", last_error="boom"), PluginCrashed.code, "restarting"),
        (_status(status="not started", last_error="boom"), None, "failed"),
        (_status(loaded=False, last_error="API 2.0"), PluginIncompatible.code, "incompatible"),
        (_status(loaded=False, last_error="no module"), PluginLoadError.code, "failed"),
        (_status(loaded=False), None, "not loaded"),
    ],
)
def test_plugin_status_in_the_uis_words(status: PluginStatus, failure: str | None, display: str) -> None:
    assert plugin_row(status, failure=failure).display == display


def test_plugin_problems_join_the_managers_and_the_checks() -> None:
    row = plugin_row(_status(problems=("a",)), problems=["b"])
    assert row.problems == ("a", "b")


def _instance(iid: str, state: str, **tags: str) -> sdk.Instance:
    return sdk.Instance(
        id=iid, provider="p", state=sdk.InstanceState.parse(state), name=f"name-{iid}", instance_type="t.large",
        zone="eu-1a", launch_time=datetime(2026, 1, 1, tzinfo=UTC), tags=tags,
    )


def test_state_counts_and_the_actions_offered() -> None:
    fleet = [_instance(str(i), s) for i, s in enumerate(
        ["running", "pending", "stopped", "suspended", "stopping", "unknown", "terminated"])]
    counts = state_counts(fleet)
    assert (counts.running, counts.stopped, counts.other, counts.total) == (2, 2, 3, 7)
    assert [actions_for(i) for i in fleet] == [("stop",), ("stop",), ("start",), ("start",), (), (), ()]


def test_the_instance_filter() -> None:
    fleet = [_instance("i-1", "running", team="ml"), _instance("i-2", "stopped", team="web", env="Prod")]
    by_text = InstanceFilter.from_query({"q": " prod "})
    assert [i.id for i in fleet if by_text.matches(i)] == ["i-2"]  # tag values, case-insensitive
    by_state = InstanceFilter.from_query({"state": "running"})
    assert [i.id for i in fleet if by_state.matches(i)] == ["i-1"]
    assert InstanceFilter.from_query({"q": "T.LARGE"}).matches(fleet[0])
    tag = InstanceFilter.from_query({"tag": "team = ml"})
    assert tag.cloud_filters() == {"team": "ml"} and tag.tag_error is None
    assert InstanceFilter.from_query({"tag": "team"}).tag_error == "the tag filter must be KEY=VALUE, not 'team'"
    assert InstanceFilter.from_query({"q": "x", "tag": "a=b"}).query() == {"q": "x", "tag": "a=b"}


def test_templates_have_no_inline_script_or_style() -> None:
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"inline script in {path.name}"
        assert not re.search(r"\son[a-z]+\s*=", text), f"event handler attribute in {path.name}"
        assert not re.search(r"\sstyle\s*=|<style", text), f"inline style in {path.name}"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_every_template_escapes() -> None:
    html = environment().from_string("<p title='{{ v }}'>{{ v }}</p>").render(v="<b x='1'>&")
    assert html == "<p title='&lt;b x=&#39;1&#39;&gt;&amp;'>&lt;b x=&#39;1&#39;&gt;&amp;</p>"


async def _sleep(seconds: float, value: object = "done") -> object:
    await asyncio.sleep(seconds)
    return value


async def _fail(exc: Exception) -> None:
    raise exc


def test_bounded_calls_answer_in_time() -> None:
    async def scenario() -> None:
        answer = await bounded(_sleep(30), seconds=0.05, what="provider 'slow'")
        assert answer.timed_out and answer.code == "timeout"
        assert answer.error is not None and answer.error.startswith("provider 'slow' did not answer within 0.05 s")
        assert (await bounded(_sleep(0), seconds=5, what="x")).value == "done"
        failed = await bounded(_fail(ApiError(409, "not_loaded", "not loaded")), seconds=5, what="x")
        assert (failed.ok, failed.code, failed.error) == (False, "not_loaded", "not loaded")
        cloud = await bounded(_fail(sdk.PermissionDenied("no")), seconds=5, what="x")
        assert cloud.code == "permission_denied" and cloud.error == "no"
        with pytest.raises(ZeroDivisionError):
            await bounded(_fail(ZeroDivisionError()), seconds=5, what="x")

    asyncio.run(scenario())


def test_identical_calls_in_flight_share_one_run() -> None:
    started: list[str] = []

    async def call(key: str) -> str:
        started.append(key)
        number = len(started)
        await asyncio.sleep(0.05)
        return f"{key}-{number}"

    async def scenario() -> None:
        flights = SingleFlight()
        first = flights.run("a", lambda: call("a"))
        again = flights.run("a", lambda: call("a"))
        other = flights.run("b", lambda: call("b"))
        assert again is first and other is not first and len(flights) == 2
        assert await first == "a-1" and await other == "b-2"
        await asyncio.sleep(0)
        assert len(flights) == 0  # finished calls are forgotten
        assert await flights.run("a", lambda: call("a")) == "a-3"
        assert started == ["a", "b", "a"]

    asyncio.run(scenario())


def test_templates_and_static_files_ship_in_the_wheel() -> None:
    import fnmatch
    import tomllib
    from pathlib import Path

    import snoozebot

    root = Path(snoozebot.__file__).parent
    patterns = tomllib.loads((root.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = patterns["snoozebot"]
    files = [p.relative_to(root).as_posix() for d in ("agent/ui/templates", "agent/ui/static")
             for p in (root / d).iterdir()]
    assert files
    assert [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in shipped)] == []
