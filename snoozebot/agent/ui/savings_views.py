"""What the savings page draws: bar charts as plain geometry, and money as text (pure, no I/O).

:func:`bar_chart` turns per-day values by provider into stacked bars in a
``viewBox`` coordinate space; the template draws them as inline SVG (no
script, scales to a phone's width) and lists the same values as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from snoozebot.savings.figures import DayProvider

__all__ = ["Bar", "Chart", "Tick", "bar_chart", "money", "nice_ceiling"]

WIDTH = 640
HEIGHT = 220
_LEFT = 64
_BOTTOM = 30
_TOP = 20


@dataclass(frozen=True)
class Bar:
    """One provider's part of one day's bar."""

    x: float
    y: float
    width: float
    height: float
    series: int
    label: str


@dataclass(frozen=True)
class Tick:
    """A value line on the chart's axis."""

    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart: bars, axis ticks, day labels (every few days) and the series."""

    title: str
    unit: str
    bars: list[Bar]
    ticks: list[Tick]
    days: list[tuple[float, str]]
    providers: list[str]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = _LEFT
    bottom: int = HEIGHT - _BOTTOM


def money(amount: float | None) -> str:
    """``$1,234.56``, or a dash when nothing was priced."""
    return "\u2013" if amount is None else f"${amount:,.2f}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= value)


def _fmt(value: float, unit: str) -> str:
    return money(value) if unit == "USD" else f"{value:,.1f} h"


def _tick(value: float, unit: str) -> str:
    """A short axis label (``$5``, ``$0.5``, ``25 h``): it must stay legible on a phone."""
    text = f"{value:,.0f}" if value == int(value) else f"{value:g}"
    return f"${text}" if unit == "USD" else f"{text} h"


def bar_chart(
    title: str, cells: Iterable[DayProvider], *, days: Sequence[str], unit: str, providers: Sequence[str]
) -> Chart:
    """Stacked bars per day (``unit`` ``USD``: money, ``h``: hours), providers in the given order."""
    value: dict[tuple[str, str], float] = {}
    for c in cells:
        v = c.amount if unit == "USD" else c.hours
        if v:
            value[(c.day, c.provider)] = v
    totals = [sum(value.get((d, p), 0.0) for p in providers) for d in days]
    top = nice_ceiling(max(totals, default=0.0))
    plot = (HEIGHT - _BOTTOM) - _TOP
    slot = (WIDTH - _LEFT) / max(1, len(days))
    bars = []
    for n, day in enumerate(days):
        base = float(HEIGHT - _BOTTOM)
        for series, provider in enumerate(providers):
            v = value.get((day, provider), 0.0)
            if not v:
                continue
            h = v / top * plot
            base -= h
            bars.append(Bar(_LEFT + n * slot + slot * 0.15, base, slot * 0.7, h, series,
                            f"{day} {provider}: {_fmt(v, unit)}"))
    ticks = [Tick((HEIGHT - _BOTTOM) - plot * f, _tick(top * f, unit)) for f in (0.0, 0.5, 1.0)]
    every = max(1, math.ceil(len(days) / 6))
    labels = [(_LEFT + (n + 0.5) * slot, day[5:]) for n, day in enumerate(days) if n % every == 0]
    return Chart(title, unit, bars, ticks, labels, list(providers))
