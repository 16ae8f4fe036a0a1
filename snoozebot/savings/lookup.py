"""Price lookups through the providers' workers (the ``hourly_price`` capability, plugin API 1.1).

:func:`worker_lookup` makes a :data:`~snoozebot.savings.prices.PriceLookup`
from a way to reach a provider's client: providers that cannot be reached (not
installed; in the agent, not loaded) or do not offer the capability price
nothing; one type's failed lookup leaves that type unpriced. The caller wraps
it in :class:`~snoozebot.savings.price_cache.CachedLookup`, so a worker starts
only for what the cache does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from snoozebot import sdk
from snoozebot.errors import SnoozebotError
from snoozebot.host.client import ProviderClient
from snoozebot.host.protocol import Method
from snoozebot.savings.prices import Price, PriceLookup

__all__ = ["ClientFor", "worker_lookup"]

log = logging.getLogger("snoozebot.savings")

ClientFor = Callable[[str], ProviderClient | None]
"""The client of a provider, or None when it cannot be asked."""

_THREADS = 8


def worker_lookup(client_for: ClientFor) -> PriceLookup:
    """Ask each provider's worker, a few types at once (its worker serves calls concurrently)."""

    def lookup(provider: str, pairs: Sequence[tuple[str, str]]) -> Mapping[tuple[str, str], Price | None]:
        client = client_for(provider)
        if client is None or not client.offers(Method.HOURLY_PRICE):
            return {}

        def one(pair: tuple[str, str]) -> Price | None:
            try:
                found = client.hourly_price(*pair)
            except (SnoozebotError, sdk.ProviderError) as exc:
                log.warning("no price for %s %s in %s: %s", provider, pair[0], pair[1], exc)
                return None
            return Price(found.usd_per_hour, found.source, found.detail) if found else None

        with ThreadPoolExecutor(max_workers=min(_THREADS, max(1, len(pairs)))) as pool:
            return dict(zip(pairs, pool.map(one, pairs), strict=True))

    return lookup
