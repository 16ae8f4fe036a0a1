"""Which Compute Engine VM is this machine? The metadata server, as the VM itself sees it.

Asked with ``Metadata-Flavor: Google`` at ``$GCE_METADATA_HOST`` (google-auth's
own variable: ``HOST[:PORT]`` or a URL), else ``metadata.google.internal``; an
answer without that header back is some other server, not believed.
"""

from __future__ import annotations

from snoozebot.metadata import MetadataUnavailable, base_url, fetch
from snoozebot.sdk import Identity

__all__ = ["identify"]

_DEFAULT = "metadata.google.internal"
_FLAVOR = {"Metadata-Flavor": "Google"}


def identify(provider: str) -> Identity:
    """``ZONE/NAME`` of this VM, and its project as the ``project`` option."""
    base = f"{base_url('GCE_METADATA_HOST', _DEFAULT)}/computeMetadata/v1"
    name = fetch(f"{base}/instance/name", headers=_FLAVOR, expect=_FLAVOR)
    zone = fetch(f"{base}/instance/zone", headers=_FLAVOR, expect=_FLAVOR).rsplit("/", 1)[-1]
    project = fetch(f"{base}/project/project-id", headers=_FLAVOR, expect=_FLAVOR)
    if not name or not zone or not project:
        raise MetadataUnavailable(f"{base} gave an empty name, zone or project")
    return Identity(provider, f"{zone}/{name}", {"project": project})
