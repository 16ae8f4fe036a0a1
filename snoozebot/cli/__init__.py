"""The ``snoozebot`` command line (Typer); one module per command group."""
