"""What the web UI tests share: a real agent with the memory provider, Debian's Chromium, sign-in.

Imported by the test_ui_* modules (it holds no tests itself). The agent is
`snoozebot agent serve` in a subprocess on 127.0.0.1 (see test_agent_harness),
its tokens made with `snoozebot agent token create`, and the memory provider
keeps its instances in a JSON state file the tests write (so they can put
HTML in tags, and change a state behind the agent's back).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli
from state_rows import select
from test_agent_harness import Agent, running_agent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
WAIT_MS = 15_000
"""The longest any browser step waits (navigation, an element, a state change)."""

EVIL_NAME = '<img src=x onerror="window.__pwned=1">web-<b>1</b>'
EVIL_TAG = "<script>window.__pwned=2</script>"
ROLES = ("viewer", "operator", "admin")


def seed_instances() -> dict[str, dict[str, Any]]:
    """The memory provider's instances at the start of a test: one with HTML in its name and a tag."""
    return {
        "mem-0": {"state": "running", "name": "build-server", "tags": {"team": "ml", "env": "dev"}},
        "mem-1": {"state": "running", "name": EVIL_NAME, "tags": {"team": "web", "note": EVIL_TAG}},
        "mem-2": {"state": "stopped", "name": "gpu-trainer", "tags": {"team": "ml"}},
    }


@dataclass
class UiAgent:
    """A running agent, its memory provider's state file, and one token per role."""

    agent: Agent
    state_file: Path
    cloudy_file: Path
    """The state file of the ``cloudy`` provider (answers like a cloud: see its module)."""

    @property
    def url(self) -> str:
        return self.agent.url

    def token(self, role: str) -> str:
        return self.agent.tokens[role]

    def _file(self, provider: str) -> Path:
        return {"memory": self.state_file, "cloudy": self.cloudy_file}[provider]

    def write_instances(self, instances: dict[str, dict[str, Any]], *, provider: str = "memory") -> None:
        self._file(provider).write_text(json.dumps(instances))

    def instances(self, *, provider: str = "memory") -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = json.loads(self._file(provider).read_text())
        return data

    def audit_count(self) -> int:
        """Start and stop attempts recorded so far."""
        return len(select(self.agent.home, "SELECT id FROM attempts"))

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """A REST call as admin (test set-up: load, unload)."""
        with self.agent.client("admin") as client:
            return client.request(method, path, json=body)

    def ensure_loaded(self, plugin: str, loaded: bool = True) -> None:
        answer = self.api("POST", f"/api/plugins/{'load' if loaded else 'unload'}", {"plugin": plugin})
        assert answer.status_code == 200, answer.text


@contextmanager
def ui_agent(base: Path, *, timeout: float = 10.0) -> Iterator[UiAgent]:
    """An agent on loopback for ``base`` (its own home and config); nothing loaded yet."""
    home = base / "home"
    home.mkdir()
    state_file = base / "memory.json"
    state_file.write_text(json.dumps(seed_instances()))
    cloudy_file = base / "cloudy.json"
    cloudy_file.write_text("{}")
    config = base / "config.toml"
    config.write_text(
        f'[providers.memory]\nstate_file = "{state_file}"\n[providers.cloudy]\nstate_file = "{cloudy_file}"\n'
    )
    env = {"SNOOZEBOT_HOME": str(home), "SNOOZEBOT_CONFIG": str(config)}
    tokens = {}
    for role in ROLES:
        made = run_cli("agent", "token", "create", "--role", role, "--name", role, env=env)
        assert made.returncode == 0, made.stderr
        tokens[role] = made.stdout.strip()
    site = _needy_distribution(base / "site")
    pythonpath = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    with running_agent(home, config, timeout=timeout, extra_env={"PYTHONPATH": pythonpath}) as agent:
        agent.tokens = tokens
        yield UiAgent(agent, state_file, cloudy_file)


NEEDY_LIBRARY = "sbui-missing-lib"


def _needy_distribution(site: Path) -> Path:
    """A provider distribution (entry point ``needy``) whose library requirement is not installed."""
    info = site / "sbui_needy-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: sbui-needy\nVersion: 1.0\nRequires-Dist: {NEEDY_LIBRARY}>=1\n"
    )
    (info / "entry_points.txt").write_text(
        "[snoozebot.providers]\nneedy = snoozebot_fixtures.memory:MemoryProvider\n"
    )
    return site


def chromium() -> str:
    """Debian's Chromium, installed with apt-get when missing and this runs as root."""
    if not os.path.exists(CHROMIUM) and os.geteuid() == 0 and shutil.which("apt-get"):
        for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(step, check=False, capture_output=True, timeout=900)
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test does)")
    return CHROMIUM


@contextmanager
def browser() -> Iterator[Any]:
    """One headless Chromium for a test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), args=CHROMIUM_ARGS, headless=True, timeout=WAIT_MS * 2
        )
        try:
            yield launched
        finally:
            launched.close()


def sign_in(page: Any, url: str, token: str) -> None:
    """Sign in through the form, as a person would (typing the token, pressing Enter)."""
    page.goto(f"{url}/ui/login")
    page.get_by_label("Agent token").fill(token)
    page.get_by_label("Agent token").press("Enter")
    page.wait_for_url(f"{url}/ui")


def screenshot(page: Any, name: str) -> Path:
    """Save the whole page under artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
