"""Common options may come before the command: ``snoozebot --config F schedule show``.

Users of git, kubectl and the AWS CLI write options first. Each command
declares its own options (so ``--help`` of a command lists them all); this
moves the common ones that stand before the command name to the end of the
command line, where the command's own parser reads them as usual. A command
that does not take one says so ("No such option"), as it would after it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["COMMON_FLAGS", "COMMON_VALUED", "hoist_common_options"]

COMMON_VALUED = frozenset({"--config", "--timeout", "--agent", "--option", "-o", "--lock-timeout"})
"""Common options that take a value (``--config FILE`` or ``--config=FILE``)."""
COMMON_FLAGS = frozenset({"--json"})
"""Common options that are flags."""


def hoist_common_options(argv: Sequence[str]) -> list[str]:
    """``argv`` with the common options found before the command moved after it."""
    leading: list[str] = []
    rest = list(argv)
    while rest:
        head = rest[0]
        name = head.split("=", 1)[0]
        if head in COMMON_FLAGS or (name in COMMON_VALUED and "=" in head):
            leading.append(rest.pop(0))
        elif head in COMMON_VALUED and len(rest) > 1:
            leading += [rest.pop(0), rest.pop(0)]
        else:
            break
    if not leading or not rest or rest[0].startswith("-"):
        return list(argv)  # nothing to move, or no command after them: let Typer say what is wrong
    if "--" in rest:
        cut = rest.index("--")
        return [*rest[:cut], *leading, *rest[cut:]]
    return [*rest, *leading]
