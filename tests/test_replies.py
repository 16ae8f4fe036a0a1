"""Worker replies are untrusted: a reply of the wrong shape fails that call alone, in one line.

End to end through the `liar` fixture plugin (a real entry point whose Instance
objects serialise to the wrong types), then the checks themselves on shapes a
plugin could only send by writing on the channel by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from test_agent_harness import running_agent

from snoozebot.host.replies import MalformedReply, parse_batch, parse_instance, parse_instances

LIES = ["name_dict", "region_float", "provider_none", "tags_int", "naive_time"]


def one_clean_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("lie", LIES)
def test_a_malformed_listing_fails_that_call_alone_in_one_line(lie: str) -> None:
    res = run_cli("instance", "list", "-p", "liar", "-o", f"lie={lie}", "--json")
    assert res.returncode == 1
    assert res.stdout.strip() in ("", "[]")
    assert "plugin 'liar' sent a malformed reply" in one_clean_line(res.stderr)


def test_an_honest_reply_of_the_same_plugin_is_served() -> None:
    res = run_cli("instance", "list", "-p", "liar", "-o", "lie=none", "--json")
    assert res.returncode == 0, res.stderr
    assert [i["id"] for i in res.json()] == ["i-1", "i-2"]


def test_a_malformed_info_reply_is_exit_1() -> None:
    res = run_cli("instance", "info", "i-1", "-p", "liar", "-o", "lie=region_float")
    assert res.returncode == 1 and "region of 'i-1' is float, not a string" in one_clean_line(res.stderr)


@pytest.mark.both_backends  # the audit row is completed as unknown, never left pending
def test_a_stop_with_a_malformed_reply_is_audited_as_unknown() -> None:
    res = run_cli("instance", "stop", "i-1", "-p", "liar", "-o", "lie=tags_int", "--json")
    assert res.returncode == 1
    assert "malformed reply" in one_clean_line(res.stderr)
    history = run_cli("history", "--json")
    [row] = history.json()
    assert (row["instance"], row["action"], row["result"]) == ("i-1", "stop", "unknown")
    assert row["error"]["code"] == "plugin_error"


def test_the_agent_answers_502_plugin_error_for_malformed_replies(tmp_path: Path, isolated_home: Path) -> None:
    (tmp_path / "config.toml").write_text('[providers.liar]\nlie = "name_dict"\n')
    assert run_cli("plugins", "load", "liar").returncode == 0
    with running_agent(isolated_home, tmp_path / "config.toml") as agent, agent.client("operator") as http:
        listing = http.get("/api/providers/liar/instances")
        info = http.get("/api/providers/liar/instances/i-1")
        stop = http.post("/api/providers/liar/instances/i-1/stop")
        assert agent.process.poll() is None
    for answer in (listing, info, stop):
        assert answer.status_code == 502, answer.text
        assert answer.json()["error"]["code"] == "plugin_error"
        assert "malformed reply" in answer.json()["error"]["message"]
    [row] = run_cli("history", "--json").json()
    assert (row["result"], row["source"]) == ("unknown", "agent")


GOOD = {"id": "i-1", "provider": "p", "state": "running", "raw_state": "RUNNING", "tags": {}}


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ({"i-1": GOOD}, "a listing is dict, not a list"),
        ([GOOD, "i-2"], "an instance is str, not an object"),
        ([{**GOOD, "id": 3}], "id is int, not a string"),
        ([{**GOOD, "id": ""}], "empty id"),
        ([{**GOOD, "state": None}], "state is NoneType"),
        ([{**GOOD, "tags": ["a"]}], "tags of 'i-1' are not an object of strings"),
        ([{**GOOD, "launch_time": "yesterday"}], "not ISO 8601"),
    ],
)
def test_listing_shapes_that_do_not_validate(reply: object, problem: str) -> None:
    with pytest.raises(MalformedReply, match=problem) as caught:
        parse_instances(reply, "p")
    assert caught.value.code == "plugin_error" and "plugin 'p'" in caught.value.message


def test_a_valid_instance_keeps_every_field() -> None:
    doc = {**GOOD, "name": "web", "zone": "a", "launch_time": "2026-01-01T00:00:00+00:00", "tags": {"k": "v"},
           "public_ip": "203.0.113.9"}
    instance = parse_instance(doc, "p")
    assert instance.to_dict() == {**doc, "instance_type": None, "region": None, "private_ip": None}


@pytest.mark.parametrize(
    "reply",
    [
        [{"id": "i-1", "instance": GOOD}],  # i-2 is missing
        [{"id": "i-1", "instance": GOOD}, {"id": "i-3", "instance": GOOD}],  # an id not asked for
        [{"id": "i-1", "instance": GOOD}, {"id": "i-1", "instance": GOOD}, {"id": "i-2", "instance": GOOD}],
        {"i-1": GOOD},
    ],
)
def test_batch_replies_must_answer_exactly_the_ids_asked_for(reply: object) -> None:
    with pytest.raises(MalformedReply, match="batch reply"):
        parse_batch(reply, ["i-1", "i-2"], "p")


def test_a_batch_error_entry_keeps_the_cloud_code() -> None:
    error = {"code": "permission_denied", "message": "no", "cloud_code": "UnauthorizedOperation"}
    [ok, failed] = parse_batch([{"id": "i-1", "instance": GOOD}, {"id": "i-2", "error": error}], ["i-1", "i-2"], "p")
    assert ok.ok and ok.state == "running"
    assert failed.failure is not None and failed.failure.to_wire() == error
    # an error of the wrong shape is a plugin error, not a crash
    [odd] = parse_batch([{"id": "i-1", "error": "boom"}], ["i-1"], "p")
    assert odd.failure is not None and odd.failure.code == "plugin_error"
