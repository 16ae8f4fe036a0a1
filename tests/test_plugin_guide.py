"""The plugin author guide's example, installed as its own distribution and driven by the CLI."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_cli

from snoozebot import sdk
from snoozebot.host import protocol

GUIDE = Path(__file__).parent.parent / "docs" / "plugin-guide.md"


def _files_in_guide() -> dict[str, str]:
    text = GUIDE.read_text()
    pattern = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)\n```", re.DOTALL)
    return {name: body + "\n" for name, body in pattern.findall(text)}


@pytest.fixture(scope="module")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's package built and installed into its own site directory."""
    source = tmp_path_factory.mktemp("snoozebot-acme")
    for name, body in _files_in_guide().items():
        (source / name).write_text(body)
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True, timeout=300,
    )
    return site


def test_guide_holds_both_files() -> None:
    assert set(_files_in_guide()) == {"pyproject.toml", "snoozebot_acme.py"}


def _guide_table(first_header: str) -> dict[str, list[str]]:
    """The guide's table whose first column is headed ``first_header``: first cell (unquoted) -> the others."""
    lines = GUIDE.read_text().split(f"| {first_header} |", 1)[1].splitlines()[2:]
    rows = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`").split("(")[0]] = cells[1:]
    return rows


def test_guide_names_every_instance_field_and_every_capability() -> None:
    assert list(_guide_table("Field")) == [f.name for f in dataclasses.fields(sdk.Instance)]
    assert list(_guide_table("Capability")) == [str(m) for m in protocol.CAPABILITIES]
    text = GUIDE.read_text()
    assert f"plugin API **{sdk.API_VERSION}**" in text
    assert "up to 8 threads" in text and sdk._DEFAULT_BATCH_CONCURRENCY == 8  # the SDK's default batch forms


def test_the_guides_listing_is_what_the_command_prints(acme_site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(acme_site), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "120"}
    shown = re.findall(r"<!-- output: list -->\n```\n(.*?)\n```", GUIDE.read_text(), re.DOTALL)
    listing = run_cli("instance", "list", "-p", "acme", "-o", "region=moon-1", "--filter", "team=ml", env=env)
    assert listing.returncode == 0, listing.stderr
    assert shown == [listing.stdout.rstrip("\n")]


def test_third_party_provider_is_listed_loaded_and_serves_instance_calls(acme_site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(acme_site), os.environ.get("PYTHONPATH", "")])}
    listed = run_cli("plugins", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    acme = [p for p in listed.json() if p["name"] == "acme"]
    assert acme and acme[0]["distribution"] == "snoozebot-acme" and acme[0]["version"] == "1.2.0"

    unconfigured = run_cli("instance", "list", "-p", "acme", env=env)
    assert unconfigured.returncode == 2
    assert "acme needs a region" in unconfigured.stderr
    assert "Traceback" not in unconfigured.stderr

    # the health check at load: a ConfigurationError from __init__ is a warning, and acme is loaded
    loaded = run_cli("plugins", "load", "acme", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "warning: acme is not configured yet: acme needs a region: -o region=moon-1" in loaded.stderr
    assert [p["loaded"] for p in run_cli("plugins", "list", "--json", env=env).json() if p["name"] == "acme"] == [True]

    listing = run_cli("instance", "list", "-p", "acme", "-o", "region=moon-1", "--filter", "team=ml", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    assert listing.json() == [{
        "id": "m-1", "provider": "acme", "state": "running", "raw_state": "UP", "name": "trainer",
        "instance_type": "gpu.large", "region": "moon-1", "zone": "moon-1a", "launch_time": "2026-11-30T08:00:00+00:00",
        "tags": {"team": "ml"}, "public_ip": "203.0.113.10", "private_ip": "10.0.0.11", "target": None, "scope": {},
    }]

    # two ids: the SDK's default stop_instances, its single forms on several threads
    stopped = run_cli("instance", "stop", "m-1", "m-2", "-p", "acme", "-o", "region=moon-1", "--json", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.json() == [
        {"id": iid, "provider": "acme", "ok": True, "state": "stopping", "error": None, "target": None, "scope": {}}
        for iid in ("m-1", "m-2")
    ]


def test_the_guides_expand_options_fans_a_fleet_target_out(acme_site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(acme_site), os.environ.get("PYTHONPATH", "")])}
    Path(os.environ["SNOOZEBOT_CONFIG"]).write_text('[targets.moon]\nprovider = "acme"\nregion = "all"\n')
    listing = run_cli("instance", "list", "-t", "moon", "--filter", "team=ml", "--json", env=env)
    assert listing.returncode == 0, listing.stderr
    assert [(i["id"], i["zone"], i["target"], i["scope"]) for i in listing.json()] == [
        ("m-1", "moon-1a", "moon", {"region": "moon-1"}),
        ("m-1", "moon-2a", "moon", {"region": "moon-2"}),
    ]


class _AcmeMetadata(BaseHTTPRequestHandler):
    """Acme's (imaginary) metadata service, as the guide's identify_self asks it."""

    answers = {"/acme/v1/machine-id": "m-2", "/acme/v1/region": "moon-1"}

    def do_GET(self) -> None:
        body = self.answers.get(self.path) if self.headers.get("Acme-Metadata") == "yes" else None
        data = (body or "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_guide_provider_announces_identify_self_and_idle_check_finds_the_machine(acme_site: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(acme_site), os.environ.get("PYTHONPATH", "")])}
    info = run_cli("plugins", "info", "acme", "--json", env=env)
    assert info.returncode == 0, info.stderr
    assert (info.json()["api_version"], info.json()["capabilities"]) == ("1.1", ["identify_self", "expand_options"])

    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcmeMetadata)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        env["ACME_METADATA_URL"] = f"http://127.0.0.1:{server.server_address[1]}"
        idle = ["--cpu", "100", "--network", "1000000", "--disk", "1000000", "--ignore-sessions"]
        # No -o region: the identity supplies it.
        res = run_cli("idle", "check", "-p", "acme", *idle, "--naptime", "0", "--dry-run", "--json", env=env)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert res.returncode == 0, res.stderr
    doc = res.json()
    assert (doc["action"], doc["instance"]["id"], doc["instance"]["region"]) == ("would-stop", "m-2", "moon-1")
