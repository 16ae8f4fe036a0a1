"""Which instance is this? Asked of the providers that can tell: the ``identify_self`` capability.

Each provider that implements it asks its cloud's metadata service on this
machine (how, and which environment variables point elsewhere, is the
provider's page in ``docs/``). With a provider named, only its worker is
asked; without, every installed provider that announces the capability, in
name order, until one answers. A provider whose metadata service refuses the
connection gives up at once, so trying the next costs little.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snoozebot import sdk
from snoozebot.errors import OperationFailed, PluginUnavailable
from snoozebot.host.protocol import Method

if TYPE_CHECKING:
    from snoozebot.host.manager import PluginManager

__all__ = ["identify"]


def identify(manager: PluginManager, provider: str | None = None) -> sdk.Identity:
    """Ask ``provider`` (or each installed provider offering ``identify_self``) which instance this is.

    With ``provider``: PluginUnavailable (exit 3) when it is not installed or cannot
    start, CapabilityMissing (exit 2) when it does not offer the capability.
    OperationFailed (exit 1) when no provider identified the machine.
    """
    if provider is not None:
        names = [manager.find(provider).name]
    else:
        names = [p.name for p in manager.discover() if not p.error]
    problems = []
    for name in names:
        client = manager.client(name)
        try:
            if provider is None and not client.offers(Method.IDENTIFY_SELF):
                continue
            return client.identify_self()
        except PluginUnavailable as exc:
            if provider is not None:
                raise  # the one provider asked for cannot run: exit 3, as for any command
            problems.append(f"{name}: {exc}")
        except sdk.ProviderError as exc:
            problems.append(f"{name}: {exc}")
    found = "; ".join(problems) or f"no installed provider offers {Method.IDENTIFY_SELF}"
    raise OperationFailed(f"cannot identify this instance from a metadata service ({found})")
