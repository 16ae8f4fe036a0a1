"""A provider that forks a grandchild holding the worker's inherited fds (the channel among them).

``get_instance_info`` leaves the grandchild behind and answers; ``list_instances``
leaves it behind and then crashes the worker (exit code 17). The grandchild
sleeps for ten minutes, named ``forky-orphan`` in ps, unless it is ended with
its worker; with the option ``pid_file`` it first appends its pid to that file.
"""

from __future__ import annotations

import ctypes
import os
import time

from snoozebot.sdk import Instance
from snoozebot_fixtures.memory import MemoryProvider


def _leave_a_grandchild(pid_file: str | None) -> None:
    """Fork the grandchild; return once it has named itself and written its pid."""
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"forky-orphan", 0, 0, 0)  # PR_SET_NAME
        if pid_file:
            with open(pid_file, "a") as out:
                out.write(f"{os.getpid()}\n")
        os.write(ready_w, b"!")
        time.sleep(600)
        os._exit(0)
    os.close(ready_w)
    os.read(ready_r, 1)
    os.close(ready_r)


class ForkyProvider(MemoryProvider):
    name = "forky"

    def get_instance_info(self, instance_id: str) -> Instance:
        _leave_a_grandchild(self.config.get("pid_file"))
        return super().get_instance_info(instance_id)

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        _leave_a_grandchild(self.config.get("pid_file"))
        os._exit(17)
