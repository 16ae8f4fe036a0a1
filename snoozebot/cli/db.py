"""``snoozebot db``: the state store's schema, created and migrated on demand (docs/shared-state.md)."""

from __future__ import annotations

from typing import Any

import typer

from snoozebot.cli.options import ConfigOpt, JsonOpt
from snoozebot.cli.output import emit_json, info, table
from snoozebot.config import load_config
from snoozebot.state import state_dir

__all__ = ["app"]

app = typer.Typer(
    help="The state store (SQLite in the state directory, or shared PostgreSQL): schema version, migrations.",
    no_args_is_help=True,
)


def _where(status: dict[str, Any]) -> str:
    return str(status["url"] or status["path"])


@app.command("upgrade")
def upgrade(*, config: ConfigOpt = None) -> None:
    """Create the schema, or migrate it to this snoozebot's version.

    Every command does this on first use; run it explicitly before starting
    a newer release on many machines. Safe to run on several at once.

    Example: SNOOZEBOT_DATABASE_URL=postgresql://snoozebot:PASS@db:5432/snoozebot snoozebot db upgrade
    """
    from snoozebot.store import open_store

    store = open_store(state_dir(), load_config(config))
    version = store.upgrade()
    info(f"The {store.backend} state at {_where(store.status())} is at schema version {version}.")


@app.command("status")
def status(*, json_: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Show where the state is kept and its schema version; changes nothing.

    The database's password is never shown.

    Example: snoozebot db status --json
    """
    from snoozebot.store import open_store

    doc = open_store(state_dir(), load_config(config)).status()
    doc["up_to_date"] = doc["version"] == doc["latest"]
    if json_:
        emit_json(doc)
        return
    rows = [
        ["backend", doc["backend"]],
        ["where", _where(doc)],
        ["schema version", f"{doc['version']} (this snoozebot: {doc['latest']})"],
    ]
    table(None, ["", ""], rows)
