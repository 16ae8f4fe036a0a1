"""The mistakes newcomers make, answered as what they are (one line, the right exit code)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_cli

NO_AWS_REGION = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.fixture
def no_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_AWS_REGION.items():
        monkeypatch.setenv(name, value)


def test_one_unconfigured_provider_does_not_spoil_the_listing(no_aws_region: None) -> None:
    assert run_cli("plugins", "load", "memory").returncode == 0
    loaded = run_cli("plugins", "load", "aws")  # loads, with a warning: no region yet
    assert loaded.returncode == 0 and "not configured" in loaded.stderr
    res = run_cli("instance", "list", "--json")
    assert res.returncode == 1
    assert [i["id"] for i in res.json()] == ["mem-0", "mem-1", "mem-2"]
    assert one_line(res.stderr).startswith("snoozebot: error: aws: ")
    text = run_cli("instance", "list")
    assert text.returncode == 1 and "mem-0" in text.stdout and "No instances found" not in text.stdout + text.stderr


def test_the_provider_alone_keeps_its_own_exit_code(no_aws_region: None) -> None:
    res = run_cli("instance", "list", "-p", "aws")
    assert res.returncode == 2 and "region" in one_line(res.stderr)


def test_several_providers_are_given_by_repeating_p() -> None:
    res = run_cli("instance", "list", "-p", "memory", "-p", "memory", "--json")
    assert res.returncode == 0 and len(res.json()) == 3
    comma = run_cli("instance", "list", "-p", "memory,aws")
    assert comma.returncode == 2 and "give one per -p, e.g. -p aws -p gcp" in one_line(comma.stderr)
    stop = run_cli("instance", "stop", "mem-0", "-p", "memory,aws")
    assert stop.returncode == 2 and "'memory,aws' is not a provider name" in one_line(stop.stderr)


def test_a_misspelt_provider_lists_the_installed_ones_and_suggests_one() -> None:
    res = run_cli("instance", "stop", "mem-0", "-p", "memroy")
    assert res.returncode == 3
    line = one_line(res.stderr)
    assert "no provider named 'memroy' is installed" in line and "memory" in line
    assert "did you mean 'memory'?" in line


@pytest.mark.parametrize(
    "argv",
    [
        ["instance", "list", "-o", "region", "us-east-1"],
        ["instance", "list", "-p", "memory", "--filter", "team"],
        ["instance", "stop", "mem-0", "-p", "memory", "-o", "region"],
    ],
)
def test_an_option_without_equals_is_told_how_to_write_it(argv: list[str]) -> None:
    res = run_cli(*argv)
    assert res.returncode == 2
    line = one_line(res.stderr)
    assert "expects KEY=VALUE" in line and "=VALUE)" in line and "unexpected extra argument" not in line


def test_common_options_may_come_before_the_command(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text('[schedules.night]\ntimezone = "UTC"\nperiods = [{ days = "daily", stop = "22:00" }]\n')
    now = ["--now", "2026-12-01T12:00:00Z"]
    show = run_cli("--config", str(config), "--json", "schedule", "show", "night", "-n", "1", *now)
    assert show.returncode == 0, show.stderr
    assert show.json()["name"] == "night"
    listing = run_cli("--json", "-o", "count=2", "instance", "list", "-p", "memory")
    assert listing.returncode == 0 and [i["id"] for i in listing.json()] == ["mem-0", "mem-1"]
    same = run_cli("--config=" + str(config), "schedule", "show", "night", "--json", "-n", "1", *now)
    assert same.json() == show.json()
    helped = run_cli("--help")
    assert "Common options go before or after the command" in helped.stdout


def test_a_common_option_the_command_lacks_is_refused_as_usual() -> None:
    res = run_cli("--json", "demo", "--help")
    assert res.returncode == 2 and "--json" in res.stderr
