"""docs/json.md lists the savings document's fields; docs/savings.md names what the code does."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from conftest import DOCS, doc_table


def _documented_fields(command: str) -> set[str]:
    [row] = [r for r in doc_table("json.md", "Documents") if f"`{command}`" in r[0]]
    return {field.strip().strip("`") for field in row[2].split(",")}


def test_the_savings_document_has_exactly_the_documented_fields(cli: Any, isolated_home: Path) -> None:
    Path(os.environ["SNOOZEBOT_CONFIG"]).write_text('[prices]\n"memory:*" = 0.25\n')
    assert cli("instance", "stop", "mem-0", "-p", "memory").returncode == 0
    report = cli("savings", "--json")
    assert report.returncode == 0, report.stderr
    document = report.json()
    assert set(document) == _documented_fields("savings")
    assert set(document["total"]) == {"hours", "amount"}
    assert {frozenset(r) for r in document["rows"]} == {frozenset({"key", "hours", "amount", "instances"})}
    [price] = document["prices"]
    text = (DOCS / "json.md").read_text()
    for field in price:
        assert f'"{field}"' in text, field
    assert price["source"] == "config"
    store = isolated_home / "audit.sqlite3"  # the journal is in the state store
    assert stat.S_IMODE(store.stat().st_mode) == 0o600 and not (isolated_home / "savings.sqlite3").exists()


def test_savings_is_linked_from_the_readme_and_the_user_guide() -> None:
    assert "docs/savings.md" in (DOCS.parent / "README.md").read_text()
    assert "(savings.md)" in (DOCS / "user-guide.md").read_text()
    page = (DOCS / "savings.md").read_text()
    for metric in ("snoozebot_snoozed_hours_total", "snoozebot_saved_amount_total"):
        assert metric in page and metric in (DOCS / "agent.md").read_text()
