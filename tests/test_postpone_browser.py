"""The postpone page and the snooze form in a real headless Chromium (Playwright) against a real agent.

Screenshots go to artifacts/screenshots/ (docs/images/postpone.png is one of them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from test_ui_harness import WAIT_MS, UiAgent, browser, screenshot, sign_in, ui_agent

from snoozebot.notify.tokens import PostponeToken
from snoozebot.overrides import OverrideStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiAgent]:
    with ui_agent(tmp_path_factory.mktemp("ui-postpone")) as running:
        running.ensure_loaded("memory")
        yield running


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    with browser() as launched:
        yield launched


@pytest.fixture
def page(chrome: Any) -> Iterator[Any]:
    context = chrome.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(WAIT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_postpone_page_shows_then_acts_on_the_button(agent: UiAgent, page: Any) -> None:
    store = OverrideStore.in_directory(agent.agent.home)
    boundary = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)).replace(second=0, microsecond=0)
    token = PostponeToken("memory", "mem-0", boundary, "+1h", "Europe/Berlin").encode(store.secret())
    page.goto(f"{agent.url}/postpone/{token}")
    expect(page.get_by_role("heading", name="Postpone the stop by 1 hour")).to_be_visible()
    screenshot(page, "postpone")
    assert store.for_instances(boundary) == {}
    page.get_by_role("button", name="Postpone the stop by 1 hour").click()
    expect(page.get_by_role("status").filter(has_text="Done: it will be stopped at")).to_be_visible()
    screenshot(page, "postpone-done")
    assert store.for_instances(boundary)[("memory", "mem-0")].moves == {boundary: boundary + dt.timedelta(hours=1)}
    page.goto(f"{agent.url}/postpone/{token}")
    expect(page.get_by_role("heading", name="Link no longer works")).to_be_visible()


def test_an_operator_snoozes_through_the_instances_page(agent: UiAgent, page: Any) -> None:
    sign_in(page, agent.url, agent.token("operator"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    page.get_by_label("Instance", exact=True).select_option("mem-2")
    page.get_by_label("Keep out of schedule and idle stops for").select_option("4h")
    page.get_by_role("button", name="Snooze").click()
    expect(page.locator(".overrides li").filter(has_text="mem-2")).to_contain_text("snoozed until")
    screenshot(page, "instances-overrides")
