"""The real sampler on this machine, with fake `nvidia-smi` programs on PATH; readings judged."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from snoozebot.idle.readings import Reading, Readings, Thresholds, evaluate
from snoozebot.idle.sampler import SystemSampler


def fake_nvidia_smi(directory: Path, script: str) -> None:
    path = directory / "nvidia-smi"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def gpu_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    return directory


def test_one_sample_of_this_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    started = time.monotonic()
    r = SystemSampler().sample(1.0)
    assert time.monotonic() - started >= 1.0
    assert r.cpu.error is None and 0.0 <= (r.cpu.value or 0.0) <= 100.0
    assert r.network.error is None and (r.network.value or 0.0) >= 0.0
    assert r.sessions.error is None and r.sessions.value is not None
    assert r.gpu is None  # absent, not failed


def test_a_sample_is_never_shorter_than_a_second(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    started = time.monotonic()
    SystemSampler().sample(0.01)
    assert time.monotonic() - started >= 1.0


def test_gpu_is_the_busiest_gpu(gpu_bin: Path) -> None:
    fake_nvidia_smi(gpu_bin, 'echo "3"; echo "87"; echo "12"')
    assert SystemSampler().sample(1.0).gpu == Reading(87.0)


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ('echo "NVIDIA-SMI has failed" >&2; exit 9', "nvidia-smi exited with 9: NVIDIA-SMI has failed"),
        ('echo "[N/A]"', "nvidia-smi printed something unexpected"),
        ("true", "nvidia-smi reported no GPU"),
    ],
)
def test_a_failing_gpu_reading_is_an_error(gpu_bin: Path, script: str, error: str) -> None:
    fake_nvidia_smi(gpu_bin, script)
    gpu = SystemSampler().sample(1.0).gpu
    assert gpu is not None and gpu.value is None and gpu.error is not None
    assert gpu.error.startswith(error)


def readings(**overrides: Reading | None) -> Readings:
    base = {
        "cpu": Reading(2.0),
        "network": Reading(1.0),
        "disk": Reading(3.0),
        "gpu": None,
        "sessions": Reading(0.0),
    }
    base.update(overrides)
    return Readings(**base)  # type: ignore[arg-type]


def test_idle_when_everything_is_at_or_under_its_threshold() -> None:
    verdict = evaluate(readings(cpu=Reading(10.0), gpu=Reading(5.0)), Thresholds(), ignore_sessions=False)
    assert verdict.idle
    assert verdict.readings["cpu"] == {"value": 10.0, "unit": "%", "threshold": 10.0, "idle": True, "error": None}
    assert verdict.readings["gpu"]["idle"] is True


@pytest.mark.parametrize(
    "busy",
    [
        {"cpu": Reading(10.5)},
        {"network": Reading(50.1)},
        {"disk": Reading(100.1)},
        {"gpu": Reading(5.1)},
        {"sessions": Reading(1.0)},
    ],
)
def test_one_busy_reading_is_busy(busy: dict[str, Reading]) -> None:
    assert not evaluate(readings(**busy), Thresholds(), ignore_sessions=False).idle


@pytest.mark.parametrize("name", ["cpu", "network", "disk", "gpu", "sessions"])
def test_a_failed_reading_counts_as_busy(name: str) -> None:
    verdict = evaluate(readings(**{name: Reading.failed("boom")}), Thresholds(), ignore_sessions=False)
    assert not verdict.idle
    assert verdict.readings[name] == {
        "value": None,
        "unit": verdict.readings[name]["unit"],
        "threshold": verdict.readings[name]["threshold"],
        "idle": False,
        "error": "boom",
    }


def test_ignore_sessions() -> None:
    verdict = evaluate(readings(sessions=Reading(3.0)), Thresholds(), ignore_sessions=True)
    assert verdict.idle and verdict.readings["sessions"]["threshold"] is None
