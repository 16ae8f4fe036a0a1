"""Savings: what snoozing saved, in hours and money (``docs/savings.md``).

- :mod:`~snoozebot.savings.store`: the journal's queries (SQLite), behind :class:`JournalStore`
- :mod:`~snoozebot.savings.journal`: opening and closing snoozed intervals
- :mod:`~snoozebot.savings.prices`: ``[prices]`` overrides and the price sources, in order
- :mod:`~snoozebot.savings.price_cache`: the lookups' cache in the state directory
- :mod:`~snoozebot.savings.report`: hours and money per row, the JSON and CSV shapes
"""

from snoozebot.savings.journal import Journal
from snoozebot.savings.prices import CURRENCY, Price, PriceBook, read_overrides
from snoozebot.savings.report import Report, Row, Window, build_report, parse_by
from snoozebot.savings.store import JournalStore, Snoozed, SqliteJournalStore

__all__ = [
    "CURRENCY",
    "Journal",
    "JournalStore",
    "Price",
    "PriceBook",
    "Report",
    "Row",
    "Snoozed",
    "SqliteJournalStore",
    "Window",
    "build_report",
    "parse_by",
    "read_overrides",
]
