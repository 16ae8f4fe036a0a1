"""Which instance is this? Asked of the cloud's metadata service on the machine itself.

- ``aws``: IMDSv2 (a session token from ``PUT /latest/api/token``, then
  ``instance-id`` and ``placement/region``) at ``$AWS_EC2_METADATA_SERVICE_ENDPOINT``,
  else ``http://169.254.169.254``.
- ``gcp``: the metadata server (``Metadata-Flavor: Google``) at ``$GCE_METADATA_HOST``,
  else ``metadata.google.internal``; the id is ``ZONE/NAME``, the project an option.

Each service is asked with short timeouts and given up at once when the
connection is refused; requests never go through an HTTP proxy. The IMDS
token is never logged or shown.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from snoozebot.errors import OperationFailed, UsageError

__all__ = ["METADATA_TIMEOUT", "Identity", "MetadataUnavailable", "identify"]

METADATA_TIMEOUT = 2.0
"""Seconds for each metadata request (metadata services answer in milliseconds)."""

_AWS_DEFAULT = "http://169.254.169.254"
_GCE_DEFAULT = "metadata.google.internal"
_SESSION_HEADERS = {"X-aws-ec2-metadata-token-ttl-seconds": "300"}


@dataclass(frozen=True)
class Identity:
    """This machine as its provider knows it: the provider, the instance id, and options to reach it."""

    provider: str
    instance_id: str
    options: dict[str, str] = field(default_factory=dict)


class MetadataUnavailable(Exception):
    """A metadata service did not answer (refused, timed out, or answered something else)."""


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _fetch(
    url: str, *, method: str = "GET", headers: dict[str, str], expect: dict[str, str] | None = None
) -> str:
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 - http(s) URL we built
    try:
        with _opener().open(request, timeout=METADATA_TIMEOUT) as response:
            for key, value in (expect or {}).items():
                if response.headers.get(key) != value:
                    raise MetadataUnavailable(f"{url} answered without {key}: {value}")
            return str(response.read(65536).decode("utf-8", "replace")).strip()
    except urllib.error.HTTPError as exc:
        raise MetadataUnavailable(f"{url} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            raise MetadataUnavailable(f"connection refused at {url}") from None
        raise MetadataUnavailable(f"no answer from {url}: {reason}") from None
    except (TimeoutError, OSError, ValueError) as exc:
        raise MetadataUnavailable(f"no answer from {url}: {exc}") from None


def _aws() -> Identity:
    base = (os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or _AWS_DEFAULT).rstrip("/")
    token = _fetch(f"{base}/latest/api/token", method="PUT", headers=_SESSION_HEADERS)
    headers = {"X-aws-ec2-metadata-token": token}
    instance_id = _fetch(f"{base}/latest/meta-data/instance-id", headers=headers)
    region = _fetch(f"{base}/latest/meta-data/placement/region", headers=headers)
    if not instance_id or not region:
        raise MetadataUnavailable(f"{base} gave an empty instance id or region")
    return Identity("aws", instance_id, {"region": region})


def _gcp() -> Identity:
    host = (os.environ.get("GCE_METADATA_HOST") or _GCE_DEFAULT).strip().rstrip("/")
    base = f"{host}/computeMetadata/v1" if "://" in host else f"http://{host}/computeMetadata/v1"
    headers = {"Metadata-Flavor": "Google"}
    expect = {"Metadata-Flavor": "Google"}
    name = _fetch(f"{base}/instance/name", headers=headers, expect=expect)
    zone = _fetch(f"{base}/instance/zone", headers=headers, expect=expect).rsplit("/", 1)[-1]
    project = _fetch(f"{base}/project/project-id", headers=headers, expect=expect)
    if not name or not zone or not project:
        raise MetadataUnavailable(f"{base} gave an empty name, zone or project")
    return Identity("gcp", f"{zone}/{name}", {"project": project})


_SERVICES: dict[str, Callable[[], Identity]] = {"aws": _aws, "gcp": _gcp}


def identify(provider: str | None = None) -> Identity:
    """Ask ``provider``'s metadata service, or each known one in turn.

    Raises UsageError for a provider without a known metadata service, and
    OperationFailed (exit 1) when no service identified the machine.
    """
    if provider is not None and provider not in _SERVICES:
        known = ", ".join(_SERVICES)
        raise UsageError(f"no metadata service is known for provider {provider!r} (known: {known})")
    problems = []
    for name in [provider] if provider else list(_SERVICES):
        try:
            return _SERVICES[name]()
        except MetadataUnavailable as exc:
            problems.append(f"{name}: {exc}")
    raise OperationFailed(f"cannot identify this instance from a metadata service ({'; '.join(problems)})")
