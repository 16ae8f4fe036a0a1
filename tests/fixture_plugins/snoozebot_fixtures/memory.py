"""A healthy provider whose instances live in memory, or in a JSON file.

Options: ``count`` (instances to create, default 3), ``state_file`` (a JSON
file that keeps the instances across processes, so consecutive CLI commands
see each other's changes), ``delay`` (seconds every call sleeps), ``call_log``
(a file that gets one JSON line per stop or start: action, id, pid, and the
wall-clock start and end of the call, so tests can see whether calls overlapped).
An instance record with ``boot_seconds`` starts as ``pending`` and reads as
``running`` only that many seconds after its start call.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from snoozebot.sdk import CloudProvider, Instance, InstanceNotFound, InstanceState

LAUNCHED = datetime(2026, 1, 1, tzinfo=UTC)


def _seed(count: int) -> dict[str, dict[str, Any]]:
    return {
        f"mem-{i}": {
            "state": "running",
            "name": f"machine-{i}",
            "tags": {"team": "ml" if i % 2 else "web", "snoozebot-schedule": "office-hours"},
        }
        for i in range(count)
    }


class MemoryProvider(CloudProvider):
    name = "memory"
    version = "1.0.0"
    api_version = "1.0"

    def __init__(self, config: dict[str, str]) -> None:
        super().__init__(config)
        self._file = config.get("state_file")
        self._delay = float(config.get("delay", "0"))
        self._call_log = config.get("call_log")
        self._lock = threading.Lock()
        self._memory = _seed(int(config.get("count", "3")))

    @contextmanager
    def _instances(self) -> Iterator[dict[str, dict[str, Any]]]:
        if self._delay:
            time.sleep(self._delay)
        with self._lock:
            if not self._file:
                yield self._memory
                return
            fd = os.open(self._file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                raw = os.read(fd, 10_000_000)
                data = json.loads(raw) if raw else dict(self._memory)
                yield data
                os.lseek(fd, 0, 0)
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(data).encode())
            finally:
                os.close(fd)

    def _to_instance(self, iid: str, rec: dict[str, Any]) -> Instance:
        if rec["state"] == "pending" and "ready_at" in rec and time.time() >= rec["ready_at"]:
            rec["state"] = "running"
        return Instance(
            id=iid,
            provider=self.name,
            state=InstanceState.parse(rec["state"]),
            raw_state=rec["state"].upper(),
            name=rec.get("name"),
            instance_type="mem.small",
            region="local",
            zone="local-a",
            launch_time=LAUNCHED,
            tags=rec.get("tags", {}),
        )

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        with self._instances() as data:
            return [
                self._to_instance(iid, rec)
                for iid, rec in sorted(data.items())
                if all(rec.get("tags", {}).get(k) == v for k, v in filters.items())
            ]

    def get_instance_info(self, instance_id: str) -> Instance:
        with self._instances() as data:
            if instance_id not in data:
                raise InstanceNotFound(f"instance {instance_id} not found", cloud_code="NotFound")
            return self._to_instance(instance_id, data[instance_id])

    def _transition(self, instance_id: str, target: str, dry_run: bool) -> Instance:
        started = time.time()
        with self._instances() as data:
            if instance_id not in data:
                raise InstanceNotFound(f"instance {instance_id} not found", cloud_code="NotFound")
            if not dry_run:
                rec = data[instance_id]
                boots = target == "running" and "boot_seconds" in rec
                rec["state"] = "pending" if boots else target
                if boots:
                    rec["ready_at"] = time.time() + float(rec["boot_seconds"])
            instance = self._to_instance(instance_id, data[instance_id])
        if self._call_log:
            line = {"action": target, "id": instance_id, "pid": os.getpid(), "start": started, "end": time.time()}
            with open(self._call_log, "a") as log:
                log.write(json.dumps(line) + "\n")
        return instance

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        return self._transition(instance_id, "suspended" if hibernate else "stopped", dry_run)

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        return self._transition(instance_id, "running", dry_run)
