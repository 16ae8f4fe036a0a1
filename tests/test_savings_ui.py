"""The savings page, the overview's cards and /metrics, on a real agent and in a real Chromium.

The journal is seeded with three weeks of snoozes (three providers, two of
them not installed here, priced by [prices]); a stop through the REST API and
a start by hand behind the agent's back end one more, seen by a listing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_cli
from playwright.sync_api import expect
from test_agent_harness import running_agent
from test_ui_harness import WAIT_MS, browser, sign_in

from snoozebot.config import Config
from snoozebot.savings.store import Details, StateJournalStore
from snoozebot.store import open_store

pytestmark = pytest.mark.slow

DOCS_IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
DAY = 86400.0
SEEDED = {
    # provider: (instance, type, region, hours a night, weekdays only)
    "memory": ("mem-0", "mem.small", "local", 12, False),
    "aws": ("i-0a1b2c3d4e5f60718", "t3.large", "eu-west-1", 14, True),
    "gcp": ("europe-west1-b/trainer", "n2-standard-8", "europe-west1", 10, True),
}
CONFIG = """
[providers.memory]
state_file = "{state}"

[prices]
"memory:mem.small" = 0.0416
"aws:t3.large" = 0.0912
"gcp:n2-standard-8" = 0.4274
"""


def seed(home: Path, now: float) -> None:
    """Nightly snoozes over the last 21 days, each ended by a start (so the figures stand still)."""
    store = StateJournalStore(open_store(home, Config()))
    midnight = now - now % DAY
    for provider, (iid, kind, region, hours, weekdays) in SEEDED.items():
        details = Details(kind, region, {"team": "ml" if provider != "aws" else "web"})
        for back in range(21, 0, -1):
            evening = midnight - back * DAY + 19 * 3600
            if weekdays and time.gmtime(evening).tm_wday >= 5:
                continue
            store.open(provider, [(iid, details)], source="schedule", at=evening)
            store.close(provider, [iid], at=evening + hours * 3600, by="start")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    base = tmp_path_factory.mktemp("savings-ui")
    home = base / "home"
    home.mkdir()
    state = base / "memory.json"
    state.write_text(json.dumps({
        "mem-0": {"state": "running", "name": "build-server", "tags": {"team": "ml"}},
        "mem-1": {"state": "running", "name": "notebook", "tags": {"team": "web"}},
    }))
    config = base / "config.toml"
    config.write_text(CONFIG.format(state=state))
    seed(home, time.time())
    with running_agent(home, config, timeout=6) as running:
        running.state_file = state
        running.config = config
        with running.client("admin") as client:
            assert client.post("/api/plugins/load", json={"plugin": "memory"}).status_code == 200
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    expect.set_options(timeout=WAIT_MS)
    with browser() as launched:
        yield launched


def cli_report(agent: Any, *args: str) -> dict[str, Any]:
    env = {"SNOOZEBOT_HOME": str(agent.home), "SNOOZEBOT_CONFIG": str(agent.config)}
    res = run_cli("savings", "--json", *args, env=env)
    assert res.returncode == 0, res.stderr
    return res.json()  # type: ignore[no-any-return]


def metric(text: str, name: str, provider: str) -> float:
    match = re.search(rf'^{name}{{provider="{provider}"}} (\S+)$', text, re.M)
    assert match, f"{name} for {provider} missing in:\n{text}"
    return float(match.group(1))


def test_a_stop_through_the_agent_and_a_start_by_hand_seen_by_a_listing(agent: Any) -> None:
    with agent.client("operator") as client:
        answer = client.post("/api/providers/memory/instances/mem-1/stop")
        assert answer.status_code == 200, answer.text
        state = json.loads(agent.state_file.read_text())
        state["mem-1"]["state"] = "running"  # started by hand, behind the agent's back
        agent.state_file.write_text(json.dumps(state))
        assert client.get("/api/providers/memory/instances").status_code == 200
    [row] = open_store(agent.home, Config()).read(
        lambda db: db.execute(
            "SELECT instance_type, tags, ended, ended_by FROM savings_intervals"
            " JOIN savings_details ON savings_details.id = savings_intervals.details WHERE instance = 'mem-1'"
        ),
        empty=[],
    )
    assert row[0] == "mem.small" and json.loads(row[1]) == {"team": "web"}
    assert row[2] is not None and row[3] == "listing"


def test_metrics_agree_with_the_savings_command(agent: Any) -> None:
    with agent.client("viewer") as client:
        text = client.get("/metrics").text
    rows = {r["key"]: r for r in cli_report(agent, "--since", "10000d", "--by", "provider")["rows"]}
    for provider in SEEDED:
        assert metric(text, "snoozebot_snoozed_hours_total", provider) == pytest.approx(rows[provider]["hours"])
        assert metric(text, "snoozebot_saved_amount_total", provider) == pytest.approx(rows[provider]["amount"])
    assert "# TYPE snoozebot_snoozed_hours_total counter" in text
    assert "# TYPE snoozebot_saved_amount_total counter" in text


def test_the_savings_page_on_a_laptop_and_a_phone(chromium: Any, agent: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, agent.url, agent.tokens["viewer"])
        card = page.locator("section.card.provider", has_text="memory")
        expect(card.locator(".saved")).to_contain_text(re.compile(r"Saved this month: \$\d"))
        expect(page.locator(".saved-summary")).to_contain_text(re.compile(r"Saved this month: \$\d"))
        card.get_by_role("link", name=re.compile(r"\$")).click()
        expect(page).to_have_url(f"{agent.url}/ui/savings")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Savings")

        report = cli_report(agent, "--since", "30d")
        expect(page.locator(".summary strong").first).to_have_text(f"${report['total']['amount']:,.2f}")
        charts = page.get_by_role("img")
        expect(charts).to_have_count(2)
        expect(page.get_by_role("img", name="Money saved per day (USD)")).to_be_visible()
        bars = page.locator("svg rect")
        assert bars.count() > 40
        titles = page.locator("svg rect title").all_text_contents()
        assert any(re.fullmatch(r"\d{4}-\d\d-\d\d gcp: \$\d+\.\d\d", t) for t in titles), titles[:5]
        assert page.locator("script[src^='http'], link[href^='http']").count() == 0  # nothing external

        top = page.locator("table.top-instances tbody tr")
        expect(top.first).to_have_attribute("data-instance", "europe-west1-b/trainer")  # the dearest
        expect(page.locator(".prices")).to_contain_text('[prices] "aws:t3.large"')
        page.get_by_text("Per day, as a table").click()
        expect(page.locator("#per-day tbody tr").first).to_contain_text(" h, $")
        page.get_by_text("Per day, as a table").click()
        DOCS_IMAGES.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS_IMAGES / "ui-savings.png"), full_page=True)

        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.get_by_role("img")).to_have_count(2)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        box = page.get_by_role("img").first.bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] > 80
        page.screenshot(path=str(DOCS_IMAGES / "ui-savings-phone.png"), full_page=True)
    finally:
        context.close()
    assert not errors, errors


def test_the_page_needs_a_session(agent: Any) -> None:
    answer = httpx.get(f"{agent.url}/ui/savings", follow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303) and "/ui/login" in answer.headers["location"]
