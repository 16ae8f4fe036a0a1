"""Measuring the machine: psutil for CPU, network, disk and sessions; ``nvidia-smi`` for GPUs.

:class:`SystemSampler` takes one sample over ``seconds`` (at least one):
counters are read at both ends, ``nvidia-smi`` runs beside the wait. Every
reading is taken on its own; one failing never hides the others.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any, Protocol

import psutil

from snoozebot.idle.readings import Reading, Readings

__all__ = ["MIN_SAMPLE_SECONDS", "Sampler", "SystemSampler"]

MIN_SAMPLE_SECONDS = 1.0
_NVIDIA_SMI_TIMEOUT = 10.0
_NVIDIA_QUERY = ["--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]


class Sampler(Protocol):
    """Takes one sample of the machine's activity."""

    def sample(self, seconds: float) -> Readings: ...


def _attempt(read: Callable[[], Any]) -> tuple[Any, str | None]:
    try:
        return read(), None
    except Exception as exc:  # a reading that fails is reported and counts as busy
        return None, f"{type(exc).__name__}: {exc}"


def _loopbacks() -> set[str]:
    names = set()
    for name, stats in psutil.net_if_stats().items():
        flags = str(getattr(stats, "flags", ""))
        if "loopback" in flags.split(",") or name == "lo":
            names.add(name)
    return names


def _network_bytes() -> int:
    loopbacks = _loopbacks()
    counters = psutil.net_io_counters(pernic=True)
    return sum(c.bytes_sent + c.bytes_recv for name, c in counters.items() if name not in loopbacks)


def _disk_bytes() -> int:
    counters = psutil.disk_io_counters(perdisk=False)
    if counters is None:
        raise RuntimeError("no disk counters on this system")
    return int(counters.read_bytes + counters.write_bytes)


def _rate(before: tuple[Any, str | None], after: tuple[Any, str | None], seconds: float) -> Reading:
    error = before[1] or after[1]
    if error:
        return Reading.failed(error)
    return Reading(round(max(0, after[0] - before[0]) / seconds / 1000.0, 3))


def _parse_gpu(proc: subprocess.Popen[str]) -> Reading:
    try:
        out, err = proc.communicate(timeout=_NVIDIA_SMI_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return Reading.failed(f"nvidia-smi did not answer within {_NVIDIA_SMI_TIMEOUT:g}s")
    if proc.returncode != 0:
        detail = (err or out).strip().splitlines()[:1]
        return Reading.failed(": ".join([f"nvidia-smi exited with {proc.returncode}", *detail]))
    try:
        values = [float(line.strip()) for line in out.splitlines() if line.strip()]
    except ValueError:
        return Reading.failed(f"nvidia-smi printed something unexpected: {out.strip()[:80]!r}")
    if not values:
        return Reading.failed("nvidia-smi reported no GPU")
    return Reading(max(values))


class SystemSampler:
    """Readings of this machine through psutil, and ``nvidia-smi`` when it is on ``PATH``."""

    def sample(self, seconds: float = MIN_SAMPLE_SECONDS) -> Readings:
        seconds = max(seconds, MIN_SAMPLE_SECONDS)
        smi = shutil.which("nvidia-smi")
        gpu_proc: subprocess.Popen[str] | None = None
        gpu_error: str | None = None
        if smi:
            try:
                gpu_proc = subprocess.Popen(
                    [smi, *_NVIDIA_QUERY], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
            except OSError as exc:
                gpu_error = f"cannot run nvidia-smi: {exc.strerror or exc}"
        _, cpu_error = _attempt(lambda: psutil.cpu_percent(interval=None))
        net_before, disk_before = _attempt(_network_bytes), _attempt(_disk_bytes)
        started = time.monotonic()
        time.sleep(seconds)
        cpu_value, cpu_error_after = _attempt(lambda: psutil.cpu_percent(interval=None))
        net_after, disk_after = _attempt(_network_bytes), _attempt(_disk_bytes)
        elapsed = time.monotonic() - started
        users, users_error = _attempt(psutil.users)
        gpu: Reading | None = None
        if gpu_proc is not None:
            gpu = _parse_gpu(gpu_proc)
        elif gpu_error:
            gpu = Reading.failed(gpu_error)
        cpu_failure = cpu_error or cpu_error_after
        return Readings(
            cpu=Reading.failed(cpu_failure) if cpu_failure else Reading(float(cpu_value)),
            network=_rate(net_before, net_after, elapsed),
            disk=_rate(disk_before, disk_after, elapsed),
            gpu=gpu,
            sessions=Reading.failed(users_error) if users_error else Reading(float(len(users))),
        )
