"""What checking worker replies costs, against a 1,000-instance listing through a real worker.

Each round fetches the listing (the `memory` fixture provider, ``count=1000``)
through one worker, then turns that same reply into Instances twice,
interleaved: with the checks (:func:`snoozebot.host.replies.parse_instances`,
what the host does) and without (``sdk.Instance.from_dict``, the unchecked
conversion). The figure is the checks' extra time as a share of the whole
unchecked listing (the call through the pipe plus the unchecked conversion).

Run: .venv/bin/python benchmarks/bench_replies.py [--rounds N]
Target (issue 19): at most 5%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snoozebot import sdk
from snoozebot.config import Config
from snoozebot.host.manager import PluginManager
from snoozebot.host.replies import parse_instances


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {"call": [], "checked": [], "unchecked": []}
    with tempfile.TemporaryDirectory() as home:
        config = Config(data={"providers": {"memory": {"count": "1000"}}})
        manager = PluginManager(config=config, state_directory=Path(home))
        try:
            supervisor = manager.supervisor("memory")
            for _ in range(args.rounds):
                seconds, reply = _timed(lambda: supervisor.call("list_instances", {"filters": {}}, timeout=30))
                samples["call"].append(seconds)
                conversions = {
                    "checked": lambda reply=reply: parse_instances(reply, "memory"),
                    "unchecked": lambda reply=reply: [sdk.Instance.from_dict(d) for d in reply],
                }
                order = sorted(conversions, reverse=len(samples["call"]) % 2 == 0)  # alternate who goes first
                converted = []
                for name in order:
                    tries = [_timed(conversions[name]) for _ in range(3)]  # the least disturbed of three
                    samples[name].append(min(seconds for seconds, _ in tries))
                    converted.append(tries[0][1])
                assert converted[0] == converted[1] and len(converted[0]) == 1000
        finally:
            manager.shutdown()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, value in medians.items():
        print(f"{name:>10}: {value * 1000:7.2f} ms (median of {args.rounds})")
    listing = medians["call"] + medians["unchecked"]
    extra = medians["checked"] - medians["unchecked"]
    print(f"checks add {extra * 1000:+.2f} ms to a {listing * 1000:.2f} ms listing: {extra / listing:+.1%} (target <= 5%)")


if __name__ == "__main__":
    main()
