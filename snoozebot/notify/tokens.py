"""Postpone tokens: one instance, one stop boundary, one choice, signed (docs/notifications.md).

A token is ``PAYLOAD.SIGNATURE``, both base64url without padding: the payload
is compact JSON ``{"p": provider, "i": instance, "b": boundary (Unix seconds),
"c": choice, "z": the schedule's zone}``, the signature HMAC-SHA256 of the payload's text under the
secret kept by :meth:`snoozebot.overrides.OverrideStore.secret`. It expires
once its boundary plus :data:`LIFETIME` has passed; the payload text is what
marks it used.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from snoozebot.notify.messages import CHOICES

__all__ = ["DELAYS", "LIFETIME", "PostponeToken", "TokenRefused"]

LIFETIME = dt.timedelta(hours=24)
"""A token works until its boundary plus this."""

DELAYS: dict[str, dt.timedelta | None] = {
    "+1h": dt.timedelta(hours=1),
    "+2h": dt.timedelta(hours=2),
    "skip": None,
}
"""How far each choice moves the boundary (None: the boundary is skipped)."""


class TokenRefused(Exception):
    """An altered, malformed or unknown token (403)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, secret: bytes) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


@dataclass(frozen=True)
class PostponeToken:
    """What a postpone link does: move (or skip) one stop boundary of one instance."""

    provider: str
    instance: str
    boundary: dt.datetime
    choice: str
    zone: str = "UTC"

    @property
    def expires(self) -> dt.datetime:
        return self.boundary + LIFETIME

    @property
    def moved_to(self) -> dt.datetime | None:
        """The boundary's new time; None for ``skip``."""
        delay = DELAYS[self.choice]
        return self.boundary + delay if delay is not None else None

    def payload(self) -> str:
        doc = {"p": self.provider, "i": self.instance, "b": int(self.boundary.timestamp()), "c": self.choice,
               "z": self.zone}
        return _b64(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode())

    def local(self, moment: dt.datetime) -> str:
        """``moment`` in the token's zone, for people."""
        try:
            zone: dt.tzinfo = ZoneInfo(self.zone)
        except (ValueError, ZoneInfoNotFoundError):
            zone = dt.UTC
        return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")

    def encode(self, secret: bytes) -> str:
        payload = self.payload()
        return f"{payload}.{_sign(payload, secret)}"

    @classmethod
    def decode(cls, token: str, secret: bytes) -> PostponeToken:
        """The token's content; TokenRefused unless the signature is the secret's."""
        payload, dot, signature = token.partition(".")
        if not dot or not payload.isascii() or not hmac.compare_digest(_sign(payload, secret), signature):
            raise TokenRefused("this link is not one snoozebot made")
        try:
            doc = json.loads(_unb64(payload))
            found = cls(str(doc["p"]), str(doc["i"]), dt.datetime.fromtimestamp(int(doc["b"]), dt.UTC),
                        str(doc["c"]), str(doc["z"]))
        except (binascii.Error, ValueError, KeyError, TypeError, OverflowError, OSError):
            raise TokenRefused("this link is not one snoozebot made") from None
        if found.choice not in CHOICES:
            raise TokenRefused("this link is not one snoozebot made")
        return found
