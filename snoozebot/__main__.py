"""``python -m snoozebot``."""

from snoozebot.cli.main import main

main()
