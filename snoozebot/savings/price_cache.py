"""The price lookups' cache: ``prices-cache.json`` in the state directory.

Keyed by (provider, type, region). An answer from a cloud's price API is kept
for a week, one from a provider's shipped table for a day (so the cloud is
asked again soon), and "no price" for an hour (so a report, a UI page or a
metrics scrape does not ask a failing cloud again and again). Written
atomically under a lock; an unreadable file is an empty cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from snoozebot.savings.prices import Price, PriceLookup
from snoozebot.state import atomic_write_json, exclusive_lock, read_json

__all__ = ["CACHE_FILE", "KEEP_SECONDS", "CachedLookup"]

CACHE_FILE = "prices-cache.json"

KEEP_SECONDS = {"lookup": 7 * 86400.0, "table": 86400.0, None: 3600.0}
"""How long an answer is kept, by its source (None: no price)."""


def _key(provider: str, instance_type: str, region: str) -> str:
    return f"{provider}|{instance_type}|{region}"


def _entry(value: Any, now: float) -> tuple[bool, Price | None]:
    """(fresh, price) of one cache entry; malformed entries are stale."""
    if not isinstance(value, dict) or not isinstance(value.get("at"), int | float):
        return False, None
    price = None
    if isinstance(value.get("usd_per_hour"), int | float):
        price = Price(float(value["usd_per_hour"]), str(value.get("source")), str(value.get("detail")))
    keep = KEEP_SECONDS.get(price.source if price else None, 0.0)
    return now - float(value["at"]) < keep, price


class CachedLookup:
    """A :data:`~snoozebot.savings.prices.PriceLookup` that asks ``lookup`` only for what is not cached."""

    def __init__(
        self, directory: Path, lookup: PriceLookup, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = directory / CACHE_FILE
        self._lock = directory / (CACHE_FILE + ".lock")
        self._lookup = lookup
        self._clock = clock

    def __call__(
        self, provider: str, pairs: Sequence[tuple[str, str]]
    ) -> Mapping[tuple[str, str], Price | None]:
        now = self._clock()
        cached = read_json(self._path, {})
        cached = cached if isinstance(cached, dict) else {}
        found: dict[tuple[str, str], Price | None] = {}
        missing = []
        for pair in pairs:
            fresh, price = _entry(cached.get(_key(provider, *pair)), now)
            if fresh:
                found[pair] = price
            else:
                missing.append(pair)
        if missing:
            answered = self._lookup(provider, missing)
            found.update({pair: answered.get(pair) for pair in missing})
            self._store(provider, {pair: answered.get(pair) for pair in missing}, now)
        return found

    def _store(self, provider: str, answers: Mapping[tuple[str, str], Price | None], now: float) -> None:
        with exclusive_lock(self._lock, timeout=10.0, what="the price cache"):
            data = read_json(self._path, {})
            data = data if isinstance(data, dict) else {}
            for pair, price in answers.items():
                data[_key(provider, *pair)] = {"at": now, **(price.to_dict() if price else {})}
            atomic_write_json(self._path, data)
