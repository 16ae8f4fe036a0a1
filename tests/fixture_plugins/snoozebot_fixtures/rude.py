"""A provider whose text is hostile, and one exception that cannot be printed.

Its names, tags, errors and log lines carry ANSI escapes, CR, BEL, NUL,
newlines and a Unicode line separator, and a non-ASCII tag. Ids:

- ``rude-0``: listed and shown, with the hostile name and tags;
- ``mute``: every call about it raises :class:`Unprintable`, whose
  ``__str__`` and ``__repr__`` raise;
- anything else: not found, with the hostile text in the message.

Option ``seen``: a file that gets every id the plugin is asked about, one JSON
string a line (tests check that a bad id never reaches the plugin).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from snoozebot.sdk import CloudProvider, Instance, InstanceNotFound, InstanceState, ProviderError

HOSTILE = "\x1b[31mred\x1b[0m\rover\x07bell\x00nul\ttab\nforged line\u2028third\x7f"
ESCAPED = "\\x1b[31mred\\x1b[0m\\rover\\x07bell\\x00nul\\ttab\\nforged line\\u2028third\\x7f"

log = logging.getLogger("rude")


class Unprintable(Exception):
    """An exception whose text cannot be read."""

    def __str__(self) -> str:
        raise RuntimeError("no words")

    def __repr__(self) -> str:
        raise RuntimeError("no words either")


class RudeProvider(CloudProvider):
    name = "rude"
    version = "1.0.0"
    api_version = "1.0"

    def _saw(self, instance_id: str) -> None:
        if self.config.get("seen"):
            with open(self.config["seen"], "a") as fh:
                fh.write(json.dumps(instance_id) + "\n")

    def _instance(self, instance_id: str) -> Instance:
        return Instance(
            id=instance_id,
            provider=self.name,
            state=InstanceState.RUNNING,
            raw_state="RUNNING",
            name=HOSTILE,
            instance_type="rude.small",
            region="local",
            zone="local-a",
            launch_time=datetime(2026, 1, 1, tzinfo=UTC),
            tags={HOSTILE: HOSTILE, "café": "crème"},
        )

    def list_instances(self, filters: dict[str, str]) -> list[Instance]:
        log.warning("a log record: %s", HOSTILE)
        print(f"a stderr line: {HOSTILE}", file=sys.stderr)
        return [self._instance("rude-0")]

    def get_instance_info(self, instance_id: str) -> Instance:
        self._saw(instance_id)
        if instance_id == "mute":
            raise Unprintable()
        if instance_id != "rude-0":
            raise InstanceNotFound(f"{HOSTILE} {instance_id}", cloud_code=HOSTILE)
        return self._instance(instance_id)

    def stop_instance(self, instance_id: str, *, hibernate: bool = False, dry_run: bool = False) -> Instance:
        self._saw(instance_id)
        if instance_id == "mute":
            raise Unprintable()
        raise ProviderError(f"refused: {HOSTILE}", cloud_code=HOSTILE)

    def start_instance(self, instance_id: str, *, dry_run: bool = False) -> Instance:
        return self.stop_instance(instance_id, dry_run=dry_run)
