"""Notifications: warnings before a stop, what a run did, what failed (docs/notifications.md).

- :mod:`.settings`: the ``[notify]`` table, validated up front;
- :mod:`.messages`: the digests as plain text (pure);
- :mod:`.deliver`: Apprise deliveries in threads, bounded in time;
- :mod:`.run`: what one ``schedule run`` sends.
"""

from snoozebot.notify.deliver import DELIVERY_SECONDS, deliver
from snoozebot.notify.messages import CHOICES, Notice, Subject, Upcoming
from snoozebot.notify.run import notify_run, outcome_notices
from snoozebot.notify.settings import NotifySettings, load_notify_settings

__all__ = [
    "CHOICES",
    "DELIVERY_SECONDS",
    "Notice",
    "NotifySettings",
    "Subject",
    "Upcoming",
    "deliver",
    "load_notify_settings",
    "notify_run",
    "outcome_notices",
]
