"""Snoozebot: stop cloud machines nobody is using, through provider plugins."""

__version__ = "0.1.0"
