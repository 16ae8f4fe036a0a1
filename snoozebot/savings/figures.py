"""Savings figures for the agent: the web UI's page and cards, and the Prometheus totals.

:class:`SavingsFigures` reads the journal and prices through the same
:func:`~snoozebot.savings.report.build_report` as ``snoozebot savings``, so
the UI, ``/metrics`` and the command agree. Calls block (the state store,
price lookups): the agent runs them in its thread pool.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from snoozebot.config import Config
from snoozebot.savings.prices import PriceBook, PriceLookup, config_overrides
from snoozebot.savings.report import Report, Window, build_report, summarize_by
from snoozebot.savings.store import JournalStore, StateJournalStore
from snoozebot.store import Store

__all__ = ["DayProvider", "Figures", "SavingsFigures", "month_start", "savings_figures"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def month_start(now: dt.datetime) -> dt.datetime:
    """00:00 UTC on the first of ``now``'s month."""
    return now.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class DayProvider:
    """One provider's snoozed hours and money on one UTC day."""

    day: str
    provider: str
    hours: float
    amount: float | None


@dataclass(frozen=True)
class Figures:
    """The savings page: the report by instance, and the days by provider."""

    report: Report
    days: list[DayProvider]


class SavingsFigures:
    """Reports over the journal with one price book."""

    def __init__(
        self, store: JournalStore, prices: PriceBook, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.prices = prices
        self._clock = clock

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def report(self, window: Window, *, by: str) -> Report:
        """``snoozebot savings --by BY`` over ``window``."""
        return build_report(self.store, window, by=by, prices=self.prices, now=self._clock())

    def page(self, *, days: int = 30) -> Figures:
        """The last ``days`` UTC days (today included), by instance and by day and provider."""
        now = self._now()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        window = Window(today - dt.timedelta(days=days - 1), now)
        now_s = self._clock()
        report = build_report(self.store, window, by="instance", prices=self.prices, now=now_s)
        grouped = summarize_by(self.store, window, prices=self.prices, now=now_s, keys=("day", "provider"))
        cells = [DayProvider(str(k[0]), str(k[1]), h, a) for k, (h, a, _) in grouped.items()]
        return Figures(report, sorted(cells, key=lambda c: (c.day, c.provider)))

    def by_provider(self, since: dt.datetime | None = None) -> dict[str, tuple[float, float | None]]:
        """(hours, amount) per provider from ``since`` (default: the journal's beginning) to now."""
        report = self.report(Window(since or _EPOCH, self._now()), by="provider")
        return {str(r.key): (r.hours, r.amount) for r in report.rows}

    def this_month(self) -> dict[str, tuple[float, float | None]]:
        """(hours, amount) per provider since the first of this month, UTC."""
        return self.by_provider(month_start(self._now()))


def savings_figures(config: Config, store: Store, *, lookup: PriceLookup | None = None) -> SavingsFigures:
    """The figures of the journal in ``store``, priced by ``[prices]`` and then ``lookup``."""
    return SavingsFigures(StateJournalStore(store), PriceBook(config_overrides(config), lookup))
