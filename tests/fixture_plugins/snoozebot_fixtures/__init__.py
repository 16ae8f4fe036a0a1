"""Fixture providers for snoozebot's own tests, registered as real entry points."""
