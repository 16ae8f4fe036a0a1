"""The savings report: snoozed hours and money per row, from the journal and the prices.

:func:`build_report` clips every interval to the window (an open one ends at
the window's end, or now), prices it once per (provider, type, region), and
groups it by instance, provider, target, UTC day or a tag's value. The total
is summed from the intervals themselves with :func:`math.fsum`, so no grouping
changes it by a single bit; ``total.amount`` is the sum of the priced rows.
The JSON and CSV shapes are documented in ``docs/json.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from snoozebot.errors import UsageError
from snoozebot.savings.prices import CURRENCY, Price, PriceBook, PriceKey
from snoozebot.savings.store import Interval

__all__ = [
    "GROUPINGS",
    "Piece",
    "PriceUse",
    "Report",
    "Row",
    "Window",
    "build_report",
    "parse_by",
    "parse_when",
    "pieces",
    "price_all",
]

GROUPINGS = ("instance", "provider", "target", "day")
"""The ``--by`` values besides ``tag:KEY``."""

_DAY = 86400.0
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw])\s*$")
_UNITS = {"h": 3600.0, "d": _DAY, "w": 7 * _DAY}


@dataclass(frozen=True)
class Window:
    """``[since, until)`` in aware UTC datetimes."""

    since: dt.datetime
    until: dt.datetime

    @classmethod
    def parse(cls, since: str | None, until: str | None, *, now: dt.datetime) -> Window:
        """``--since`` (``30d``, ``12h``, ``2w`` before the end, or a DATE; default 30d), ``--until``."""
        end = parse_when(until, now=now, option="--until") if until else now
        start = parse_when(since or "30d", now=end, option="--since")
        if start >= end:
            raise UsageError(f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})")
        return cls(start, end)


def parse_when(text: str, *, now: dt.datetime, option: str) -> dt.datetime:
    """``30d``/``12h``/``2w`` before ``now``, or an ISO date (its 00:00 UTC) or date-time (UTC when bare)."""
    ago = _AGO.match(text)
    if ago:
        return now - dt.timedelta(seconds=float(ago.group(1)) * _UNITS[ago.group(2)])
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} must be like 30d, 12h, 2w, 2026-11-01 or 2026-11-01T08:00:00Z, not {text!r}"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def parse_by(text: str) -> str:
    """``--by``: one of :data:`GROUPINGS` or ``tag:KEY``."""
    value = text.strip()
    if value in GROUPINGS:
        return value
    if value.startswith("tag:") and value[4:].strip():
        return f"tag:{value[4:].strip()}"
    choices = ", ".join((*GROUPINGS, "tag:KEY"))
    raise UsageError(f"--by must be one of {choices}, not {text!r}")


@dataclass(frozen=True)
class Piece:
    """The part of one interval inside the window (one UTC day of it, when split by day)."""

    interval: Interval
    start: float
    end: float

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600.0

    @property
    def price_key(self) -> PriceKey:
        d = self.interval.details
        return (self.interval.provider, d.instance_type or None, d.region or None)


def pieces(intervals: Iterable[Interval], window: Window, *, now: float) -> Iterator[Piece]:
    """Every interval clipped to the window (open ones end at the window's end or ``now``)."""
    low, high = window.since.timestamp(), window.until.timestamp()
    for interval in intervals:
        start = max(interval.started, low)
        end = min(interval.ended if interval.ended is not None else now, high)
        if end > start:
            yield Piece(interval, start, end)


def _by_day(parts: Iterable[Piece]) -> Iterator[Piece]:
    """Each piece cut at UTC midnights."""
    for piece in parts:
        start = piece.start
        while start < piece.end:
            midnight = (math.floor(start / _DAY) + 1) * _DAY
            yield Piece(piece.interval, start, min(piece.end, midnight))
            start = midnight


def price_all(parts: list[Piece], prices: PriceBook) -> dict[PriceKey, Price | None]:
    """One price per (provider, type, region) met in ``parts``."""
    return prices.resolve({p.price_key for p in parts})


def _key_function(by: str) -> Callable[[Piece], str | None]:
    if by == "instance":
        return lambda p: p.interval.instance
    if by == "provider":
        return lambda p: p.interval.provider
    if by == "target":
        return lambda p: None  # no targets yet: one row, key null (docs/savings.md)
    if by == "day":
        return lambda p: dt.datetime.fromtimestamp(p.start, dt.UTC).date().isoformat()
    tag = by.removeprefix("tag:")
    return lambda p: (p.interval.details.tags or {}).get(tag)


@dataclass
class _Sums:
    hours: list[float] = field(default_factory=list)
    amounts: list[float] = field(default_factory=list)
    instances: set[tuple[str, str]] = field(default_factory=set)

    def add(self, piece: Piece, price: Price | None) -> None:
        hours = piece.hours
        self.hours.append(hours)
        if price is not None:
            self.amounts.append(hours * price.usd_per_hour)
        self.instances.add((piece.interval.provider, piece.interval.instance))

    @property
    def amount(self) -> float | None:
        return math.fsum(self.amounts) if self.amounts else None


@dataclass(frozen=True)
class Row:
    """One group: its key (None for "no value"), hours, amount (None: nothing priced), instances."""

    key: str | None
    hours: float
    amount: float | None
    instances: int

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "hours": self.hours, "amount": self.amount, "instances": self.instances}


@dataclass(frozen=True)
class PriceUse:
    """A price the report used, and for how many instances."""

    provider: str
    instance_type: str | None
    region: str | None
    price: Price
    instances: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "instance_type": self.instance_type,
            "region": self.region,
            **self.price.to_dict(),
            "instances": self.instances,
        }


@dataclass(frozen=True)
class Report:
    """What ``snoozebot savings`` shows."""

    window: Window
    by: str
    hours: float
    amount: float | None
    rows: list[Row]
    unpriced: list[str]
    prices: list[PriceUse]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (``docs/json.md``)."""
        return {
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "currency": CURRENCY,
            "total": {"hours": self.hours, "amount": self.amount},
            "rows": [r.to_dict() for r in self.rows],
            "unpriced": self.unpriced,
            "prices": [p.to_dict() for p in self.prices],
        }

    def to_csv(self) -> str:
        """The ``--csv`` text: header ``key,hours,amount,instances``, one line per row, no total."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["key", "hours", "amount", "instances"])
        for r in self.rows:
            writer.writerow(
                ["" if r.key is None else r.key, repr(r.hours), "" if r.amount is None else repr(r.amount),
                 r.instances]
            )
        return out.getvalue()


def _order(by: str) -> Callable[[Row], tuple[Any, ...]]:
    if by == "day":
        return lambda r: (r.key is None, r.key or "")
    return lambda r: (-(r.amount or 0.0), -r.hours, r.key is None, r.key or "")


def summarize(
    parts: Iterable[Piece], priced: dict[PriceKey, Price | None], key: Callable[[Piece], Hashable]
) -> dict[Hashable, tuple[float, float | None, int]]:
    """(hours, amount, instances) per ``key(piece)``."""
    groups: dict[Hashable, _Sums] = {}
    for piece in parts:
        groups.setdefault(key(piece), _Sums()).add(piece, priced.get(piece.price_key))
    return {k: (math.fsum(s.hours), s.amount, len(s.instances)) for k, s in groups.items()}


def build_report(
    intervals: Iterable[Interval], window: Window, *, by: str, prices: PriceBook, now: float
) -> Report:
    """The report of ``intervals`` over ``window``, grouped ``by``."""
    parts = list(pieces(intervals, window, now=now))
    priced = price_all(parts, prices)
    everything = _Sums()
    uses: dict[PriceKey, set[tuple[str, str]]] = {}
    unpriced: set[str] = set()
    for piece in parts:
        price = priced.get(piece.price_key)
        everything.add(piece, price)
        if price is None:
            unpriced.add(piece.interval.instance)
        else:
            uses.setdefault(piece.price_key, set()).add((piece.interval.provider, piece.interval.instance))
    # Totals from whole intervals: splitting them into days must not move the total by a bit.
    grouped = summarize(_by_day(parts) if by == "day" else parts, priced, _key_function(by))
    rows = sorted(
        (Row(k if isinstance(k, str) else None, h, a, n) for k, (h, a, n) in grouped.items()), key=_order(by)
    )
    used = [
        PriceUse(k[0], k[1], k[2], price, len(uses[k]))
        for k in sorted(uses, key=lambda k: (k[0], k[1] or "", k[2] or ""))
        if (price := priced[k]) is not None
    ]
    return Report(window, by, math.fsum(everything.hours), everything.amount, rows, sorted(unpriced), used)
