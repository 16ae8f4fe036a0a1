"""Asking a cloud's metadata service on the machine itself, shared by every provider's identify_self.

A metadata service answers in milliseconds on a link-local address, or not
at all: every request has a short timeout, a refused connection is given up
at once (nothing listens: not this cloud), and requests never go through an
HTTP proxy (``HTTP_PROXY`` would send them elsewhere). Headers (the IMDS
session token among them) are never logged or put in a message.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Mapping

from snoozebot.sdk import ProviderError

__all__ = ["METADATA_TIMEOUT", "MetadataUnavailable", "base_url", "fetch"]

METADATA_TIMEOUT = 2.0
"""Seconds for each metadata request (metadata services answer in milliseconds)."""

_MAX_ANSWER_BYTES = 1024 * 1024


class MetadataUnavailable(ProviderError):
    """A metadata service did not answer (refused, timed out, or answered something else)."""


def base_url(variable: str, default: str) -> str:
    """``$variable`` (a URL, or ``HOST[:PORT]`` meaning plain http), else ``default``; no trailing ``/``."""
    value = (os.environ.get(variable) or default).strip().rstrip("/")
    return value if "://" in value else f"http://{value}"


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str],
    expect: Mapping[str, str] | None = None,
) -> str:
    """The body of one metadata request, stripped; MetadataUnavailable when there is none.

    ``expect`` names response headers the real service always sends (a server
    that lacks them is some other service on that address).
    """
    request = urllib.request.Request(url, method=method, headers=dict(headers))  # noqa: S310 - http(s) URL
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=METADATA_TIMEOUT) as response:
            for key, value in (expect or {}).items():
                if response.headers.get(key) != value:
                    raise MetadataUnavailable(f"{url} answered without {key}: {value}")
            return str(response.read(_MAX_ANSWER_BYTES).decode("utf-8", "replace")).strip()
    except urllib.error.HTTPError as exc:
        raise MetadataUnavailable(f"{url} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise MetadataUnavailable(f"connection refused at {url}") from None
        raise MetadataUnavailable(f"no answer from {url}: {exc.reason}") from None
    except (TimeoutError, OSError, ValueError) as exc:
        raise MetadataUnavailable(f"no answer from {url}: {exc}") from None
