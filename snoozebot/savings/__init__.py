"""Savings: what snoozing saved, in hours and money (``docs/savings.md``).

- :mod:`~snoozebot.savings.store`: the journal's queries (SQLite), behind ``JournalStore``
- :mod:`~snoozebot.savings.journal`: opening and closing snoozed intervals
- :mod:`~snoozebot.savings.prices`: ``[prices]`` overrides and the price sources, in order
- :mod:`~snoozebot.savings.price_cache`: the lookups' cache in the state directory
- :mod:`~snoozebot.savings.lookup`: lookups through the workers' ``hourly_price``
- :mod:`~snoozebot.savings.report`: hours and money per row, the JSON and CSV shapes
- :mod:`~snoozebot.savings.figures`: the agent's page, cards and metrics

Nothing is imported here: every stop and start imports the journal, and only
``savings`` and the agent need the rest.
"""
