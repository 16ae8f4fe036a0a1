"""Hourly on-demand prices, from three sources in order (see ``docs/savings.md``).

1. ``[prices]`` in the config: ``"aws:t3.large" = 0.0832``, ``"aws:*"`` for every
   other instance of that provider;
2. the provider's own price lookup (plugin API 1.1 capability ``hourly_price``:
   its cloud's price API, else the dated table shipped with it), cached in the
   state directory (:mod:`snoozebot.savings.price_cache`);
3. nothing: the instance is unpriced (its hours still count).

Currency: USD. A lookup that fails leaves the instances it would have priced
unpriced; it never fails a report.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from snoozebot.config import Config
from snoozebot.errors import UsageError

__all__ = [
    "CURRENCY",
    "Price",
    "PriceBook",
    "PriceKey",
    "PriceLookup",
    "config_overrides",
    "read_overrides",
]

log = logging.getLogger("snoozebot.savings")

CURRENCY = "USD"


@dataclass(frozen=True)
class Price:
    """An hourly price and where it came from.

    ``source`` is ``config`` (``[prices]``), ``lookup`` (the cloud's price API)
    or ``table`` (the provider's shipped table); ``detail`` says which one, in
    words (``[prices] "aws:*"``, ``AWS Price List API``, ``aws table of 2026-11-01``).
    """

    usd_per_hour: float
    source: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"usd_per_hour": self.usd_per_hour, "source": self.source, "detail": self.detail}


PriceKey = tuple[str, str | None, str | None]
"""(provider, instance type, region); type or region None when unknown."""

PriceLookup = Callable[[str, Sequence[tuple[str, str]]], Mapping[tuple[str, str], Price | None]]
"""Ask provider ``name`` for the prices of ``(type, region)`` pairs; may raise."""


def config_overrides(config: Config) -> dict[str, float]:
    """The config file's ``[prices]``, checked (exit 2 naming a bad key or value)."""
    return read_overrides(config.table("prices"), where=f"{config.path or 'config'}: [prices]")


def read_overrides(table: Mapping[str, Any], *, where: str = "[prices]") -> dict[str, float]:
    """``[prices]`` checked: keys ``PROVIDER:TYPE`` or ``PROVIDER:*``, values non-negative numbers."""
    overrides: dict[str, float] = {}
    for key, value in table.items():
        provider, sep, kind = str(key).partition(":")
        if not sep or not provider.strip() or not kind.strip():
            raise UsageError(f'{where}: {key!r} must be "PROVIDER:TYPE" or "PROVIDER:*"')
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            raise UsageError(f"{where}: {key!r} must be USD per hour (a number >= 0), not {value!r}")
        overrides[f"{provider.strip()}:{kind.strip()}"] = float(value)
    return overrides


class PriceBook:
    """Prices of many keys at once: the overrides, then one lookup per provider for the rest."""

    def __init__(self, overrides: Mapping[str, float], lookup: PriceLookup | None = None) -> None:
        self._overrides = dict(overrides)
        self._lookup = lookup

    def _override(self, provider: str, instance_type: str | None) -> Price | None:
        for key in ((f"{provider}:{instance_type}",) if instance_type else ()) + (f"{provider}:*",):
            if key in self._overrides:
                return Price(self._overrides[key], "config", f'[prices] "{key}"')
        return None

    def resolve(self, keys: Iterable[PriceKey]) -> dict[PriceKey, Price | None]:
        """The price of every key (None: unpriced)."""
        prices: dict[PriceKey, Price | None] = {}
        wanted: dict[str, list[tuple[str, str]]] = {}
        for key in set(keys):
            provider, instance_type, region = key
            prices[key] = self._override(provider, instance_type)
            if prices[key] is None and instance_type and region:
                wanted.setdefault(provider, []).append((instance_type, region))
        if self._lookup is None:
            return prices
        for provider, pairs in sorted(wanted.items()):
            try:
                found = self._lookup(provider, sorted(pairs))
            except Exception as exc:  # any failure leaves these unpriced, never fails the report
                log.warning("no prices from %s: %s", provider, exc)
                continue
            for instance_type, region in pairs:
                prices[(provider, instance_type, region)] = found.get((instance_type, region))
        return prices
