"""Hostile plugin text, SIGTERM, unwritable output and bad ids, through the real `snoozebot` command.

The `rude` fixture plugin (tests/fixture_plugins) puts ANSI escapes, CR, BEL,
NUL and newlines in its names, tags, errors and log lines, and raises an
exception whose ``__str__`` and ``__repr__`` raise (docs/user-guide.md, "Exit codes").
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import SNOOZEBOT, leftover_workers, run_cli
from snoozebot_fixtures.rude import ESCAPED, HOSTILE
from state_rows import wait_for_pending_attempt
from test_agent_harness import running_agent

from snoozebot.text import has_control, one_line

NEWLINE = "\\n"  # an escaped newline, where the worker split the plugin's stderr into lines
RAW_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]")  # every control character but "\n"


def assert_clean(text: str) -> None:
    assert not RAW_CONTROL.search(text), repr(text)
    assert "Traceback" not in text


def one_error_line(stderr: str) -> str:
    assert_clean(stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("snoozebot: error: "), stderr
    return lines[0]


# -- one_line (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("i-0abc", "i-0abc"),
        ("a\nb\r\tc", "a\\nb\\r\\tc"),
        ("\x1b[2J\x07\x00\x7f", "\\x1b[2J\\x07\\x00\\x7f"),
        ("\x85\u2028\u2029\u202e", "\\x85\\u2028\\u2029\\u202e"),
        ("café 名前 ok [red]x[/red] C:\\path", "café 名前 ok [red]x[/red] C:\\path"),
        (HOSTILE, ESCAPED),
    ],
)
def test_one_line_escapes_control_characters_only(text: str, shown: str) -> None:
    assert one_line(text) == shown
    assert one_line(shown) == shown  # escaping twice changes nothing
    assert has_control(text) == (text != shown)


# -- plugin text reaches stderr and the terminal escaped --------------------------------


def test_hostile_names_tags_and_log_lines_stay_one_line_each() -> None:
    result = run_cli("instance", "list", "-p", "rude")
    assert result.returncode == 0, result.stderr
    assert_clean(result.stdout)
    assert_clean(result.stderr)
    header, row = result.stdout.splitlines()  # one instance: one row, whatever its name holds
    assert header.split()[:3] == ["PROVIDER", "ID", "NAME"]
    assert row.startswith("rude ") and ESCAPED in row and "café=crème" in row
    # the plugin's log record and its two stderr lines: three messages, three prefixed lines
    assert result.stderr.splitlines() == [
        f"snoozebot: [rude] a log record: {ESCAPED}",
        f"snoozebot: [rude] [stderr] a stderr line: {ESCAPED.split(NEWLINE)[0]}",
        "snoozebot: [rude] [stderr] forged line\\u2028third\\x7f",
    ]


def test_hostile_text_on_a_terminal_is_escaped_and_never_markup() -> None:
    import pty

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [SNOOZEBOT, "instance", "list", "-p", "rude"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "300", "TERM": "xterm-256color"},  # a terminal says what it is
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's last writer has gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert proc.wait(timeout=30) == 0
    text = shown.decode()
    assert "┃" in text  # the rich table of a terminal
    assert ESCAPED.split(NEWLINE)[0] in text.replace("\r\n", "\n")
    without_rich_styles = re.sub(r"\x1b\[[0-9;]*m", "", text.replace("\r\n", "\n"))
    assert "\x1b[31m" not in text and not RAW_CONTROL.search(without_rich_styles)


def test_hostile_json_is_exact_and_ascii() -> None:
    result = run_cli("instance", "info", "rude-0", "-p", "rude", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii() and not RAW_CONTROL.search(result.stdout)
    doc = result.json()
    assert doc["name"] == HOSTILE and doc["tags"] == {HOSTILE: HOSTILE, "café": "crème"}


@pytest.mark.both_backends  # PostgreSQL text cannot hold the NUL of the message: the audit row must still be written
def test_hostile_error_messages_are_one_line() -> None:
    missing = run_cli("instance", "info", "nope", "-p", "rude")
    assert missing.returncode == 1
    assert one_error_line(missing.stderr) == f"snoozebot: error: {ESCAPED} nope"

    stop = run_cli("instance", "stop", "rude-0", "-p", "rude")
    assert stop.returncode == 1
    assert one_error_line(stop.stderr) == "snoozebot: error: 1 of 1 instance(s) failed to stop"
    assert_clean(stop.stdout)
    assert stop.stdout.splitlines()[1].endswith(f"failed  refused: {ESCAPED}")
    [row] = run_cli("history", "--json").json()
    assert row["result"] == "error" and one_line(row["error"]["message"]) == f"refused: {ESCAPED}"
    table = run_cli("history")
    assert table.returncode == 0 and ESCAPED.split(NEWLINE)[0] in table.stdout
    assert_clean(table.stdout)


def test_an_exception_whose_str_raises_fails_at_once_with_one_line() -> None:
    info = run_cli("instance", "info", "mute", "-p", "rude", "--timeout", "30")
    assert info.returncode == 1
    assert info.seconds < 5  # answered at once, not after the 30 s timeout
    line = one_error_line(info.stderr)
    assert line == "snoozebot: error: internal error in plugin 'rude': Unprintable: its message could not be read"

    stop = run_cli("instance", "stop", "mute", "-p", "rude", "--timeout", "30", "--json")
    assert stop.returncode == 1 and stop.seconds < 5
    [result] = stop.json()
    assert result["error"]["code"] == "plugin_error"
    assert "Unprintable: its message could not be read" in result["error"]["message"]


# -- SIGTERM is Ctrl-C with exit 143 -------------------------------------------------------


def _terminate(proc: subprocess.Popen[str], home: Path) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err  # an exit status, not "killed by signal 15" (-15)
    assert one_error_line(err.strip("\n") + "\n") == "snoozebot: error: terminated"
    assert leftover_workers(home) == []  # shut down before the host exited: no waiting for orphans
    return err


@pytest.mark.both_backends  # a pending audit row and a held instance lock: in the database too
def test_sigterm_during_a_stop_shuts_the_worker_down_and_exits_143(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [SNOOZEBOT, "instance", "stop", "mem-0", "-p", "memory", "-o", "delay=30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_pending_attempt(isolated_home)
    _terminate(proc, isolated_home)
    rows = json.loads(run_cli("history", "--json").stdout)
    assert [(r["instance"], r["result"]) for r in rows] == [("mem-0", "pending")]


def test_sigterm_during_a_hung_call_exits_143(isolated_home: Path) -> None:
    proc = subprocess.Popen(
        [SNOOZEBOT, "instance", "list", "-p", "hangy", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while not any(p.name() == "sb-hangy" for p in leftover_workers(isolated_home)):
        assert time.monotonic() < deadline, "no hangy worker appeared"
        time.sleep(0.05)
    time.sleep(1.0)  # the call is in flight
    started = time.monotonic()
    _terminate(proc, isolated_home)
    assert time.monotonic() - started < 10  # the shutdown escalation is bounded


# -- output that cannot be written ------------------------------------------------------


def _run_into(stdout: int, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is the result
        [SNOOZEBOT, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stderr


def test_a_full_disk_is_exit_1_with_one_line() -> None:
    assert run_cli("instance", "stop", "mem-0", "-p", "memory").returncode == 0  # one history row
    with open("/dev/full", "w") as full:
        code, err = _run_into(full.fileno(), "history", "--json")
        assert code == 1
        assert one_error_line(err) == "snoozebot: error: cannot write the output: No space left on device"
        code, err = _run_into(full.fileno(), "plugins", "list")
        assert code == 1 and "No space left on device" in one_error_line(err)


def test_a_closed_stdout_is_exit_1_with_one_line() -> None:
    proc = subprocess.run(  # noqa: PLW1510
        ["bash", "-c", 'exec "$0" plugins list >&-', SNOOZEBOT], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == "snoozebot: error: cannot write the output: stdout is closed"


def test_a_reader_that_went_away_is_exit_1_with_one_line() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -c0` once head has exited
    try:
        code, err = _run_into(write_end, "instance", "list", "-p", "memory", "--json")
    finally:
        os.close(write_end)
    assert code == 1
    assert one_error_line(err) == "snoozebot: error: cannot write the output: Broken pipe"


def test_an_encoding_that_cannot_hold_the_text_is_exit_1_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as fh:
        code, err = _run_into(fh.fileno(), "instance", "list", "-p", "rude", env={"PYTHONIOENCODING": "ascii"})
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("snoozebot: error: ")]
    assert len(errors) == 1, err
    assert errors[0].startswith("snoozebot: error: cannot write the output: 'ascii' codec can't encode")
    assert_clean(err)
    assert out.read_text() == ""  # nothing half-written
    # JSON is ASCII whatever the tags hold: the same listing as --json works
    assert run_cli("instance", "list", "-p", "rude", "--json", env={"PYTHONIOENCODING": "ascii"}).returncode == 0


# -- ids with control characters are bad input ---------------------------------------------


def _seen(path: Path) -> list[str]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("bad", ["rude\x01", "rude-0\x1b[2J", "a\tb", "rude\x7f", "x\u2028y"])
def test_a_control_character_in_an_id_is_exit_2_and_never_reaches_the_plugin(
    bad: str, tmp_path: Path
) -> None:
    seen = tmp_path / "seen.jsonl"
    for args in (
        ("instance", "info", bad, "-p", "rude"),
        ("instance", "stop", "rude-0", bad, "-p", "rude"),
        ("instance", "start", bad, "-p", "rude", "--dry-run"),
    ):
        result = run_cli(*args, "-o", f"seen={seen}")
        assert result.returncode == 2, result.stderr
        line = one_error_line(result.stderr)
        assert line == f"snoozebot: error: an instance id must not contain control characters: {one_line(bad)}"
    assert _seen(seen) == []
    assert run_cli("history", "--json").json() == []  # nothing was attempted
    # the same plugin does record the ids it is asked about
    assert run_cli("instance", "info", "rude-0", "-p", "rude", "-o", f"seen={seen}").returncode == 0
    assert _seen(seen) == ["rude-0"]


def test_the_agent_answers_400_for_a_control_character_in_an_id(isolated_home: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen.jsonl"
    config = tmp_path / "agent.toml"
    config.write_text(f'[providers.rude]\nseen = "{seen}"\n')
    with running_agent(isolated_home, config) as agent, agent.client("admin") as client:
        assert client.post("/api/plugins/load", json={"plugin": "rude"}).status_code == 200
        base = "/api/providers/rude/instances"
        for bad in ("rude%00", "rude-0%1B%5B2J", "a%0Db", "a%09b", "rude%7F", "x%E2%80%A8y"):
            for method, path in (("GET", bad), ("POST", f"{bad}/stop"), ("POST", f"{bad}/start")):
                response = client.request(method, f"{base}/{path}")
                assert response.status_code == 400, (method, path, response.text)
                error = response.json()["error"]
                assert error["code"] == "bad_request"
                assert "control characters" in error["message"] and not has_control(error["message"])
        # a newline never matches a route (Starlette's path patterns stop at it): 404, no plugin either
        assert client.get(f"{base}/a%0Ab").status_code == 404
        assert _seen(seen) == []
        unauthenticated = httpx.post(f"{agent.url}{base}/rude%00/stop", timeout=10)
        assert unauthenticated.status_code == 401  # the token is checked first
        assert client.get(f"{base}/rude-0").status_code == 200
        assert _seen(seen) == ["rude-0"]
    assert run_cli("history", "--json").json() == []  # no attempt was audited
