"""Database URLs: where the shared state lives, and how to name it without its password."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from snoozebot.config import Config
from snoozebot.errors import UsageError

__all__ = ["DATABASE_URL_ENV", "DatabaseUrl", "database_url"]

DATABASE_URL_ENV = "SNOOZEBOT_DATABASE_URL"
"""The environment variable that names the database; it wins over ``[state] database``."""

_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed ``postgresql://USER:PASS@HOST:PORT/DB`` URL."""

    url: str
    host: str
    port: int
    dbname: str
    user: str
    password: str | None

    @property
    def where(self) -> str:
        """``HOST:PORT`` as errors name it (never the password)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def masked(self) -> str:
        """The URL with its password replaced by ``***``."""
        credentials = (
            f"{self.user}:***@" if self.password is not None else (f"{self.user}@" if self.user else "")
        )
        return f"postgresql://{credentials}{self.where}/{self.dbname}"

    @classmethod
    def parse(cls, text: str, *, source: str) -> DatabaseUrl:
        """Parse ``text``; a malformed URL is a UsageError naming ``source`` (and no password)."""
        parts = urlsplit(text)
        if parts.scheme not in _SCHEMES:
            raise UsageError(f"{source}: expected postgresql://USER:PASS@HOST:PORT/DB")
        try:
            port = parts.port or 5432
        except ValueError:
            raise UsageError(f"{source}: the port is not a number") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname:
            raise UsageError(f"{source}: expected postgresql://USER:PASS@HOST:PORT/DB (host and database)")
        password = unquote(parts.password) if parts.password is not None else None
        return cls(text, parts.hostname, port, dbname, unquote(parts.username or ""), password)


def database_url(config: Config) -> DatabaseUrl | None:
    """``$SNOOZEBOT_DATABASE_URL``, else ``[state] database``, else None (SQLite in the state directory)."""
    env = os.environ.get(DATABASE_URL_ENV)
    if env:
        return DatabaseUrl.parse(env, source=DATABASE_URL_ENV)
    value = config.table("state").get("database")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise UsageError(f"{config.path}: [state] database must be a string")
    return DatabaseUrl.parse(value, source=f"{config.path}: [state] database")
