"""Agent tokens: the store (salted hashes, constant-time checks) and `snoozebot agent token`.

On both backends: ``agent_tokens.json`` in the state directory, and a PostgreSQL database's table.
"""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from conftest import run_cli
from state_rows import token_records

from snoozebot.agent.auth import authorize
from snoozebot.agent.errors import ApiError
from snoozebot.agent.tokens import CHECK_SECONDS, Role, TokenExists, TokenStore, UnknownToken

pytestmark = pytest.mark.both_backends


def test_only_a_salted_hash_is_stored(isolated_home: Path, state_backend: str) -> None:
    store = TokenStore(isolated_home)
    first = store.create(name="a", role=Role.VIEWER)
    second = store.create(name="b", role=Role.VIEWER)
    records = token_records(isolated_home)
    text = json.dumps(records)
    assert first not in text and second not in text and "sbt_" not in text
    assert [r["name"] for r in records] == ["a", "b"] and len({r["salt"] for r in records}) == 2
    if state_backend == "sqlite":
        assert stat.S_IMODE((isolated_home / "agent_tokens.json").stat().st_mode) == 0o600


def test_verify_and_revoke(isolated_home: Path) -> None:
    store = TokenStore(isolated_home)
    token = store.create(name="ops", role=Role.OPERATOR)
    record = store.verify(token)
    assert record is not None and record.name == "ops" and record.role is Role.OPERATOR
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify("") is None and store.verify("sbt_nothing") is None
    other = TokenStore(isolated_home)  # a running agent's store sees the CLI's revoke
    assert other.verify(token) is not None
    store.revoke("ops")
    deadline = time.monotonic() + CHECK_SECONDS + 0.5  # at once from a file; a table's answer is reused a while
    while other.verify(token) is not None:
        assert time.monotonic() < deadline, "a revoked token was still accepted"
        time.sleep(0.05)
    with pytest.raises(UnknownToken):
        store.revoke("ops")


def test_names_are_unique_and_checked(isolated_home: Path) -> None:
    store = TokenStore(isolated_home)
    store.create(name="ci", role=Role.VIEWER)
    with pytest.raises(TokenExists):
        store.create(name="ci", role=Role.ADMIN)
    with pytest.raises(Exception, match="invalid token name"):
        store.create(name="has space", role=Role.ADMIN)


@pytest.mark.parametrize(
    ("role", "needed", "status"),
    [
        (Role.VIEWER, Role.VIEWER, None),
        (Role.VIEWER, Role.OPERATOR, 403),
        (Role.OPERATOR, Role.OPERATOR, None),
        (Role.OPERATOR, Role.ADMIN, 403),
        (Role.ADMIN, Role.ADMIN, None),
    ],
)
def test_authorize_roles(isolated_home: Path, role: Role, needed: Role, status: int | None) -> None:
    store = TokenStore(isolated_home)
    token = store.create(name="t", role=role)
    if status is None:
        assert authorize(store, token, needed).name == "t"
    else:
        with pytest.raises(ApiError) as err:
            authorize(store, token, needed)
        assert err.value.status == status and token not in err.value.message
    for missing in (None, "", "sbt_000000000000_" + "x" * 43):
        with pytest.raises(ApiError) as err:
            authorize(store, missing, Role.VIEWER)
        assert err.value.status == 401


def test_cli_create_prints_the_token_alone_once(isolated_home: Path) -> None:
    created = run_cli("agent", "token", "create", "--role", "operator", "--name", "cron")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("sbt_")
    record = TokenStore(isolated_home).verify(token)
    assert record is not None and record.role is Role.OPERATOR
    listed = run_cli("agent", "token", "list", "--json")
    assert listed.returncode == 0
    [entry] = listed.json()
    assert entry["name"] == "cron" and entry["role"] == "operator" and token not in listed.stdout
    plain = run_cli("agent", "token", "list")
    assert "cron" in plain.stdout and "operator" in plain.stdout
    revoked = run_cli("agent", "token", "revoke", "cron")
    assert revoked.returncode == 0 and revoked.stdout == ""
    assert TokenStore(isolated_home).verify(token) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--role", "root", "--name", "x"), "unknown role 'root'"),
        (("create", "--role", "admin", "--name", "bad name"), "invalid token name"),
        (("revoke", "ghost"), "no token named 'ghost'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    result = run_cli("agent", "token", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("snoozebot: error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_cli_duplicate_name(isolated_home: Path) -> None:
    assert run_cli("agent", "token", "create", "--role", "admin", "--name", "me").returncode == 0
    again = run_cli("agent", "token", "create", "--role", "viewer", "--name", "me")
    assert again.returncode == 2 and "exists already" in again.stderr and again.stdout == ""
