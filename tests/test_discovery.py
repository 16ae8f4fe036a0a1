"""Discovery through stevedore: what `plugins list` shows for healthy, broken, malformed and duplicated distributions.

Each test adds a site directory of hand-made ``*.dist-info`` folders (real metadata files, as pip would
leave them) to the ``snoozebot`` command's path, beside the fixture plugins installed in the environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from snoozebot.host import discovery


def _dist(site: Path, name: str, entry_points: str | bytes, version: str = "1.0") -> Path:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: snoozebot\n")
    data = entry_points if isinstance(entry_points, bytes) else entry_points.encode()
    (info / "entry_points.txt").write_bytes(b"[snoozebot.providers]\n" + data)
    return info


def _listed(*sites: Path, command: str = "list") -> dict[str, dict]:
    env = {"PYTHONPATH": os.pathsep.join(str(s) for s in sites)}
    result = run_cli("plugins", command, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return {p["name"]: p for p in result.json()}


def test_every_provider_is_found_with_its_distribution(tmp_path: Path) -> None:
    _dist(tmp_path / "site", "snoozebot-acme", "acme = sbtest_acme:AcmeProvider\n", version="2.3.1")
    listed = _listed(tmp_path / "site")
    assert listed["acme"]["distribution"] == "snoozebot-acme"
    assert listed["acme"]["version"] == "2.3.1"
    assert listed["acme"]["entry_point"] == "sbtest_acme:AcmeProvider"
    assert listed["acme"]["error"] is None
    assert listed["memory"]["distribution"] == "snoozebot-fixtures"
    assert listed["aws"]["distribution"] == "snoozebot"


def test_malformed_entry_points_and_names_are_listed_with_their_problem(tmp_path: Path) -> None:
    _dist(tmp_path / "site", "snoozebot-odd", "odd = not a target\nBad.Name = sbtest_odd:Odd\n")
    listed = _listed(tmp_path / "site")
    assert "malformed entry point 'not a target'" in listed["odd"]["error"]
    assert "invalid provider name 'Bad.Name'" in listed["Bad.Name"]["error"]
    assert listed["memory"]["error"] is None


def test_a_name_two_distributions_claim_is_a_problem_whatever_their_targets(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "snoozebot-twin-a", "twin = sbtest_twin:Twin\nother = sbtest_a:A\n")
    _dist(site, "snoozebot-twin-b", "twin = sbtest_twin:Twin\nother = sbtest_b:B\n")
    listed = _listed(site)
    for name in ("twin", "other"):  # same target (stevedore merges those) and different targets
        assert listed[name]["error"] == (
            f"provider name {name!r} is claimed by snoozebot-twin-a and snoozebot-twin-b; uninstall one"
        )


def test_the_same_distribution_twice_on_the_path_is_no_duplicate(tmp_path: Path) -> None:
    for site in ("one", "two"):
        _dist(tmp_path / site, "snoozebot-acme", "acme = sbtest_acme:AcmeProvider\n")
    listed = _listed(tmp_path / "one", tmp_path / "two")
    assert listed["acme"]["error"] is None


def test_an_unreadable_distribution_is_listed_and_hides_nothing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    bad = _dist(site, "snoozebot-garbled", b"garbled = sbtest_\xff:G\n")
    _dist(site, "snoozebot-acme", "acme = sbtest_acme:AcmeProvider\n")
    listed = _listed(site)
    [broken] = [p for name, p in listed.items() if name.startswith("broken:")]
    assert broken["name"] == f"broken:{bad}"
    assert "unreadable distribution metadata" in broken["error"]
    assert listed["acme"]["distribution"] == "snoozebot-acme" and listed["acme"]["error"] is None
    assert listed["memory"]["error"] is None


def test_list_reads_stevedores_cache_and_discover_rescans(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = _dist(site, "snoozebot-acme", "acme = sbtest_acme:Old\n")
    assert _listed(site)["acme"]["entry_point"] == "sbtest_acme:Old"
    # stevedore caches nothing for an interpreter under /tmp (its own rule; CI may run there)
    caching = not sys.executable.startswith("/tmp")
    if caching:
        assert list((tmp_path / "cache" / "python-entrypoints").iterdir()), "stevedore wrote no cache"
    # change the entry point but keep every modification time: stevedore's stamp cannot see it
    stamps = {p: os.stat(p).st_mtime_ns for p in (site, info, info / "entry_points.txt")}
    (info / "entry_points.txt").write_text("[snoozebot.providers]\nacme = sbtest_acme:New\n")
    for path, mtime in stamps.items():
        os.utime(path, ns=(mtime, mtime))
    cached = "sbtest_acme:Old" if caching else "sbtest_acme:New"
    assert _listed(site)["acme"]["entry_point"] == cached  # stevedore's cached listing, where it caches
    assert _listed(site, command="discover")["acme"]["entry_point"] == "sbtest_acme:New"


def test_a_distribution_installed_meanwhile_is_found_in_the_same_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent discovers in one long process: nothing may remember the first listing for good."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = {p.name for p in discovery.discover()}
    assert "memory" in before and "acme" not in before
    _dist(site, "snoozebot-acme", "acme = sbtest_acme:AcmeProvider\n")
    assert "acme" in {p.name for p in discovery.discover()}


def test_plugins_list_imports_stevedore_and_no_plugin_module() -> None:
    result = run_cli("plugins", "list", env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "stevedore" in imported
    plugin_modules = {"snoozebot_aws", "snoozebot_gcp", "snoozebot_azure", "snoozebot_fixtures", "boto3"}
    assert not imported & plugin_modules
