"""The web UI in a real headless Chromium (Playwright) against a real agent on loopback.

One agent and one browser for the module; each test has its own browser
context (its own cookies), resets the memory provider's instances, and
waits at most WAIT_MS for anything. Screenshots of every page go to
artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from test_ui_harness import (
    EVIL_NAME,
    EVIL_TAG,
    NEEDY_LIBRARY,
    WAIT_MS,
    UiAgent,
    browser,
    screenshot,
    seed_instances,
    sign_in,
    ui_agent,
)

from snoozebot.sdk import InstanceState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiAgent]:
    with ui_agent(tmp_path_factory.mktemp("ui"), timeout=6) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    expect.set_options(timeout=WAIT_MS)
    with browser() as launched:
        yield launched


@pytest.fixture
def page(chromium: Any, agent: UiAgent) -> Iterator[Any]:
    """A fresh browser context (no cookies) on a laptop-sized screen; instances reset."""
    agent.write_instances(seed_instances())
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda message: _console_error(message, errors))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"script or console errors (a CSP violation, say): {errors}"


def _console_error(message: Any, errors: list[str]) -> None:
    """Console errors but the browser's note on a 4xx page (a refused sign-in answers 401)."""
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def _row(page: Any, instance_id: str) -> Any:
    return page.locator(f'#rows tr[data-id="{instance_id}"]')


def test_sign_in_refuses_a_bad_token_then_admits_a_good_one(page: Any, agent: UiAgent) -> None:
    page.goto(f"{agent.url}/ui/plugins")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fplugins$"))
    screenshot(page, "login")
    page.get_by_label("Agent token").fill("sbt_0123456789ab_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid, or it was revoked.")

    page.get_by_label("Agent token").fill(agent.token("viewer"))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{agent.url}/ui/plugins")  # back where the user was going
    expect(page.locator(".who")).to_contain_text("viewer")
    cookie = next(c for c in page.context.cookies() if c["name"] == "snoozebot_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert agent.token("viewer") not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # nothing readable by scripts

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator(".notice")).to_have_text("You are signed out.")
    page.goto(f"{agent.url}/ui")
    expect(page).to_have_url(re.compile(r"/ui/login"))


def test_admin_loads_a_plugin_and_sees_it_healthy(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory", loaded=False)
    sign_in(page, agent.url, agent.token("admin"))
    expect(page.locator(".empty")).to_contain_text("No provider is loaded yet")
    _nav(page, "Plugins").click()
    future = page.locator('tr[data-plugin="future"]')
    future.get_by_role("button", name="Load future").click()
    expect(page.locator(".notice.error")).to_contain_text("Could not load future: plugin 'future'")
    expect(future.locator(".badge")).to_have_text("incompatible")
    expect(future.locator('[data-label="Last error"]')).to_contain_text("needs plugin API")
    broken = page.locator('tr[data-plugin="broken"]')
    broken.get_by_role("button", name="Load broken").click()
    expect(broken.locator(".badge")).to_have_text("failed")
    expect(broken.locator('[data-label="Last error"]')).not_to_have_text("–")

    needy = page.locator('tr[data-plugin="needy"] [data-label="Problems"]')
    expect(needy).to_contain_text(NEEDY_LIBRARY)  # from the requirement checks, no worker started

    row = page.locator('tr[data-plugin="memory"]')
    expect(row.locator(".badge")).to_have_text("not loaded")
    row.get_by_role("button", name="Load memory").click()
    expect(page.locator(".notice.ok")).to_contain_text("Loaded memory 1.0.0 (plugin API 1.0)")
    expect(row.locator(".badge")).to_have_text("healthy")
    expect(row.locator('[data-label="Plugin API"]')).to_have_text("1.0")
    expect(row.get_by_role("button", name="Unload memory")).to_be_visible()
    screenshot(page, "plugins")

    _nav(page, "Overview").click()
    expect(page.locator(".summary")).to_have_text("1 provider loaded; 2 instances running, 1 stopped.")
    card = page.locator(".card.provider", has_text="memory")
    expect(card.locator(".running")).to_have_text("2")
    expect(card.locator(".stopped")).to_have_text("1")
    screenshot(page, "overview")


def test_operator_stops_an_instance_and_the_history_shows_it(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("operator"))
    _nav(page, "Instances").click()
    expect(_row(page, "mem-0").locator(".badge")).to_have_text("running")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    _row(page, "mem-0").get_by_role("button", name="Stop build-server").click()
    expect(page.locator(".notice.ok")).to_contain_text("build-server: stop requested")
    expect(_row(page, "mem-0").locator(".badge")).to_have_text("stopped")
    expect(_row(page, "mem-0").get_by_role("button", name="Start build-server")).to_be_visible()
    assert agent.instances()["mem-0"]["state"] == "stopped"
    page.once("dialog", answer)
    _row(page, "mem-2").get_by_role("button", name="Start gpu-trainer").click()
    expect(_row(page, "mem-2").locator(".badge")).to_have_text("running")
    assert asked == ["Stop build-server (memory)?", "Start gpu-trainer (memory)?"]
    screenshot(page, "instances")

    _nav(page, "History").click()
    rows = page.locator("table.history tbody tr")
    expect(rows.first.locator('[data-label="Instance"]')).to_have_text("mem-2")  # newest first
    expect(rows.first.locator('[data-label="Action"]')).to_have_text("start")
    stopped = rows.nth(1)
    expect(stopped.locator('[data-label="Instance"]')).to_have_text("mem-0")
    expect(stopped.locator('[data-label="Who"]')).to_contain_text("operator")
    expect(stopped.locator('[data-label="Action"]')).to_have_text("stop")
    expect(stopped.locator('[data-label="Result"]')).to_have_text("ok")
    expect(stopped.locator('[data-label="State"]')).to_have_text("stopped")
    screenshot(page, "history")
    page.get_by_label("Instance").fill("mem-0")
    page.get_by_label("Action").select_option("start")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".empty")).to_have_text("No attempt matches this filter.")
    page.get_by_label("Action").select_option("stop")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first.locator('[data-label="Instance"]')).to_have_text("mem-0")


def test_a_cancelled_confirmation_changes_nothing(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("operator"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    page.once("dialog", lambda dialog: dialog.dismiss())
    _row(page, "mem-2").get_by_role("button", name="Start gpu-trainer").click()
    expect(_row(page, "mem-2").locator(".badge")).to_have_text("stopped")
    assert agent.instances()["mem-2"]["state"] == "stopped"


def test_states_update_live_without_a_reload(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    expect(_row(page, "mem-2").locator(".badge")).to_have_text("stopped")
    page.evaluate("window.__sameDocument = true")
    changed = agent.instances()
    changed["mem-2"]["state"] = "pending"  # someone else starts it, behind the agent's back
    agent.write_instances(changed)
    expect(_row(page, "mem-2").locator(".badge")).to_have_text("pending")
    changed["mem-2"]["state"] = "running"
    agent.write_instances(changed)
    expect(_row(page, "mem-2").locator(".badge")).to_have_text("running")
    assert page.evaluate("window.__sameDocument") is True
    expect(page.locator("#live")).to_contain_text("Last refresh")


def test_the_live_refresh_stops_when_the_session_ends(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    other_tab = page.context.new_page()
    other_tab.goto(f"{agent.url}/ui")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab.locator(".notice")).to_have_text("You are signed out.")
    expect(page.locator("#live")).to_have_text(
        "Live refresh stopped: your session ended. Reload the page to sign in again."
    )
    expect(_row(page, "mem-0")).to_be_visible()  # the last rows stay on screen


def test_the_filter_narrows_the_table(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    page.get_by_label("Tag").fill("team=ml")
    page.get_by_label("State").select_option("running")
    page.get_by_label("Tag").press("Enter")
    expect(page.locator("#rows tr[data-id]")).to_have_count(1)
    expect(_row(page, "mem-0")).to_be_visible()
    page.get_by_label("Search").fill("no-such-machine")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#rows .empty")).to_have_text("No instance matches this filter.")


def test_a_viewer_gets_no_action_buttons_and_a_forged_post_is_refused(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    expect(page.locator("#rows tr[data-id]")).to_have_count(3)
    expect(page.locator("#rows button")).to_have_count(0)
    expect(page.get_by_role("columnheader", name="Actions")).to_have_count(0)
    page.goto(f"{agent.url}/ui/plugins")
    expect(page.locator('tr[data-plugin="memory"] .badge')).to_have_text("healthy")
    expect(page.locator("table button")).to_have_count(0)

    csrf = page.locator('.who input[name="csrf"]').get_attribute("value")
    attempts = agent.audit_count()
    forged = page.request.post(
        f"{agent.url}/ui/instances/action",
        form={"csrf": csrf, "provider": "memory", "instance_id": "mem-0", "action": "stop", "confirmed": "yes"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert "has role viewer; this needs operator" in forged.text()
    unload = page.request.post(
        f"{agent.url}/ui/plugins/unload", form={"csrf": csrf, "plugin": "memory", "confirmed": "yes"},
        max_redirects=0,
    )
    assert unload.status == 403
    assert agent.instances()["mem-0"]["state"] == "running"
    assert agent.audit_count() == attempts
    assert agent.api("GET", "/api/plugins/memory").json()["loaded"] is True


def test_an_operator_post_without_the_csrf_token_is_refused(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("operator"))
    for form in ({}, {"csrf": "guessed"}):
        forged = page.request.post(
            f"{agent.url}/ui/instances/action",
            form={**form, "provider": "memory", "instance_id": "mem-0", "action": "stop", "confirmed": "yes"},
            max_redirects=0,
        )
        assert forged.status == 403
        assert "out of date or did not come from this agent" in forged.text()
    assert agent.instances()["mem-0"]["state"] == "running"


def test_html_from_the_cloud_is_shown_as_text(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("operator"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    row = _row(page, "mem-1")
    expect(row.locator('[data-label="Name"]')).to_contain_text(EVIL_NAME)
    expect(row.locator(".tag", has_text="note")).to_have_text(f"note={EVIL_TAG}")
    expect(row.locator("img, b, script")).to_have_count(0)
    expect(page.locator("#rows script, #rows img")).to_have_count(0)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name=re.compile("^Stop")).click()  # the dialog shows the name as text too


def test_a_phone_gets_a_readable_single_column(chromium: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    agent.write_instances(seed_instances())
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        sign_in(page, agent.url, agent.token("operator"))
        page.goto(f"{agent.url}/ui/instances?provider=memory")
        expect(_row(page, "mem-0")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        fields = page.locator(".filters input, .filters select")
        widths = {fields.nth(n).get_attribute("id"): fields.nth(n).bounding_box()["width"] for n in range(fields.count())}
        assert len(set(widths.values())) == 1, f"every filter field is as wide as the screen: {widths}"
        screenshot(page, "instances-phone")
    finally:
        context.close()


def test_keyboard_alone_reaches_and_uses_the_stop_button(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("operator"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    target = _row(page, "mem-0").get_by_role("button", name="Stop build-server")
    for _ in range(60):
        page.keyboard.press("Tab")
        if target.evaluate("b => b === document.activeElement"):
            break
    expect(target).to_be_focused()
    outline = target.evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline != "none", "focused buttons show a focus ring"
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(_row(page, "mem-0").locator(".badge")).to_have_text("stopped")


def test_a_hung_plugin_gives_a_timeout_message_not_a_hung_page(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("hangy")
    try:
        sign_in(page, agent.url, agent.token("viewer"))
        page.goto(f"{agent.url}/ui/instances?provider=hangy", timeout=WAIT_MS * 2)
        expect(page.locator("#rows .notice.error")).to_contain_text("timed out")
        screenshot(page, "instances-timeout")
        page.goto(f"{agent.url}/ui/history", timeout=WAIT_MS)  # the rest of the UI still answers
        expect(page.get_by_role("heading", name="History")).to_be_visible()
    finally:
        agent.ensure_loaded("hangy", loaded=False)


EC2_IDS = ("i-0123456789abcdef0", "i-0fedcba9876543210", "i-0a1b2c3d4e5f60718")
REFUSAL = (
    "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/"
    "snoozebot-scheduler/session is not authorized to perform: ec2:StopInstances on resource: "
    "arn:aws:ec2:eu-central-1:123456789012:instance/i-0a1b2c3d4e5f60718 because no identity-based policy "
    "allows the ec2:StopInstances action. Encoded authorization failure message: " + "AbCdEf0123456789" * 8
)


def _cloudy_fleet(agent: UiAgent) -> None:
    """EC2-like ids on the cloudy provider (stop replies "stopping"), one whose stop is refused at length."""
    agent.write_instances({
        EC2_IDS[0]: {"state": "running", "name": "build-server", "tags": {"team": "ml", "env": "dev"}},
        EC2_IDS[1]: {"state": "running", "name": "web-frontend", "tags": {"owner": "alice@example.com"}},
        EC2_IDS[2]: {"state": "running", "name": "gpu-trainer", "tags": {"team": "ml"}, "refuse": REFUSAL},
    }, provider="cloudy")
    agent.ensure_loaded("cloudy")


def _lines(locator: Any) -> int:
    """How many lines of text the element's content takes on screen."""
    return int(locator.evaluate(
        "e => { const r = document.createRange(); r.selectNodeContents(e);"
        " return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }"
    ))


def test_history_shows_each_instance_id_on_one_line_at_1280px(page: Any, agent: UiAgent) -> None:
    _cloudy_fleet(agent)
    for instance_id in EC2_IDS:  # a rehearsal, then the real stop: the Action column says "(dry run)"
        agent.api("POST", f"/api/providers/cloudy/instances/{instance_id}/stop", {"dry_run": True})
        agent.api("POST", f"/api/providers/cloudy/instances/{instance_id}/stop")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/history?provider=cloudy")
    cells = page.locator('table.history tbody [data-label="Instance"]')
    expect(cells).to_have_count(6)
    expect(page.locator('table.history tbody [data-label="Error"]').first).to_contain_text("not authorized")
    screenshot(page, "history-ec2-ids")
    assert [(cells.nth(n).inner_text(), _lines(cells.nth(n))) for n in range(6)] == [
        (instance_id, 1) for instance_id in reversed(EC2_IDS) for _ in range(2)
    ]


def test_instance_ids_zones_and_launch_times_stay_on_one_line_at_1280px(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    agent.write_instances(seed_instances())  # one long name (the HTML one) squeezes the other columns
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    row = _row(page, "mem-1")
    expect(row).to_be_visible()
    cells = {label: _lines(row.locator(selector)) for label, selector in (
        ("id", '[data-label="Name"] small'), ("zone", '[data-label="Zone"]'), ("launched", '[data-label="Launched"]'),
    )}
    assert cells == {"id": 1, "zone": 1, "launched": 1}


def test_choosing_a_provider_shows_its_instances_without_pressing_filter(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    _cloudy_fleet(agent)
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    expect(_row(page, "mem-0")).to_be_visible()
    page.get_by_label("Provider").select_option("cloudy")
    expect(page).to_have_url(re.compile(r"/ui/instances\?provider=cloudy(&|$)"))
    expect(page.get_by_role("heading", name="Instances of cloudy")).to_be_visible()
    expect(page.locator("#rows tr[data-id]")).to_have_count(3)
    expect(_row(page, EC2_IDS[0])).to_be_visible()


def test_with_the_keyboard_the_provider_applies_on_enter_not_on_each_arrow(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    _cloudy_fleet(agent)
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    chooser = page.get_by_label("Provider")
    expect(chooser).to_have_value("memory")
    chooser.focus()
    page.keyboard.press("ArrowUp")  # cloudy comes before memory
    expect(chooser).to_have_value("cloudy")
    page.wait_for_timeout(300)
    assert page.url.endswith("/ui/instances?provider=memory"), "one arrow press left the page"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/instances\?provider=cloudy(&|$)"))
    expect(_row(page, EC2_IDS[0])).to_be_visible()


def test_the_search_field_shows_its_whole_placeholder(page: Any, agent: UiAgent) -> None:
    agent.ensure_loaded("memory")
    sign_in(page, agent.url, agent.token("viewer"))
    page.goto(f"{agent.url}/ui/instances?provider=memory")
    search = page.get_by_label("Search")
    text, room = search.evaluate(
        "e => { const s = getComputedStyle(e); const c = document.createElement('canvas').getContext('2d');"
        " c.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;"
        " return [c.measureText(e.placeholder).width,"
        " e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight)]; }"
    )
    assert text <= room, f"the placeholder needs {text:.0f}px, the field has {room:.0f}px"


def test_the_banner_after_a_stop_never_contradicts_the_row(page: Any, agent: UiAgent) -> None:
    _cloudy_fleet(agent)
    sign_in(page, agent.url, agent.token("operator"))
    page.goto(f"{agent.url}/ui/instances?provider=cloudy")
    page.once("dialog", lambda dialog: dialog.accept())
    _row(page, EC2_IDS[0]).get_by_role("button", name="Stop build-server").click()
    banner = page.locator(".notice.ok")
    expect(banner).to_contain_text("build-server: stop requested")
    expect(_row(page, EC2_IDS[0]).locator(".badge")).to_have_text("stopped")  # the cloud replied "stopping"
    screenshot(page, "instances-after-stop")
    shown = _row(page, EC2_IDS[0]).locator(".badge").inner_text()
    named = {s.value for s in InstanceState if re.search(rf"\b{s.value}\b", banner.inner_text())}
    assert named <= {shown}, f"the banner says {named}, the row says {shown}"
