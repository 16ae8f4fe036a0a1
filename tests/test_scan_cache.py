"""The metadata scan behind `plugins list` is cached until the environment changes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from snoozebot.config import Config
from snoozebot.host import manager as manager_module
from snoozebot.host.manager import PluginManager
from snoozebot.host.scan_cache import ScanCache, environment_stamp


def test_the_stamp_changes_when_a_distribution_appears_or_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    before = environment_stamp()
    assert environment_stamp() == before
    (site / "snoozebot_acme-1.0.dist-info").mkdir()
    added = environment_stamp()
    assert added != before
    (site / "snoozebot_acme-1.0.dist-info").rmdir()
    assert environment_stamp() != added


def test_cache_answers_only_for_its_stamp(tmp_path: Path) -> None:
    cache = ScanCache(tmp_path)
    assert cache.get("a") is None
    cache.put("a", {"x": 1})
    assert cache.get("a") == {"x": 1}
    assert cache.get("b") is None
    (tmp_path / "scan-cache.json").write_text("{not json")
    assert cache.get("a") is None


def test_list_reuses_the_scan_and_discover_rescans(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scans = []
    real = manager_module.discover
    monkeypatch.setattr(manager_module, "discover", lambda: scans.append(1) or real())
    mgr = PluginManager(config=Config(), state_directory=isolated_home)
    first = mgr.statuses()
    second = mgr.statuses()
    assert len(scans) == 1
    assert [s.to_dict() for s in first] == [s.to_dict() for s in second]
    assert any(s.name == "memory" for s in second)
    mgr.statuses(fresh=True)
    assert len(scans) == 2
