"""A real PostgreSQL server for the tests: Debian's binaries, a temporary cluster on 127.0.0.1.

:func:`pg_cluster` runs ``initdb`` into a temporary directory (as the
``postgres`` user when the tests run as root, since PostgreSQL refuses to run
as root), starts ``postgres`` as a child of the test process (so it is reaped
here) on a free port of 127.0.0.1 with its socket in that directory, creates
the ``snoozebot`` role with a password, and stops the server
(``pg_ctl stop -m fast``) and removes the directory at the end.
scripts/test installs the ``postgresql`` package when it is missing.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from conftest import free_port

USER = "snoozebot"
PASSWORD = "pg-s3cret-Pa55"
"""The test role's password: every test that prints an error checks it never appears."""
_ADMIN = "sbadmin"
_ADMIN_PASSWORD = "admin-pw"
_names = itertools.count(1)


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} not found: install Debian's postgresql package (scripts/test does)")
    return path


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class PgServer:
    """A running cluster: where it listens, and how to make a fresh database on it."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    settings: str = ""
    process: subprocess.Popen[bytes] | None = None

    def url(self, dbname: str, *, password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{USER}:{password}@{self.host}:{port or self.port}/{dbname}"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=_ADMIN, password=_ADMIN_PASSWORD, dbname=dbname, autocommit=True
        )

    def new_database(self) -> str:
        """A new, empty database owned by the test role; its URL."""
        name = f"sb_{os.getpid()}_{next(_names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER {USER}')
        return self.url(name)

    def start(self) -> None:
        """Run ``postgres`` as a child of this process (so it is reaped here), until it accepts connections."""
        log = open(self.root / "log", "ab")  # noqa: SIM115 - the server writes it while it runs
        self.process = subprocess.Popen(
            _as_owner([
                _binary("postgres"), "-D", str(self.root / "data"), "-k", str(self.root), "-p", str(self.port),
                "-h", self.host, *self.settings.split(),
            ]),
            stdout=log, stderr=log, start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SNOOZEBOT_")},  # not a test's process
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                self.admin().close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not start: {(self.root / 'log').read_text()[-2000:]}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """``pg_ctl stop -m fast``, and wait for the server process."""
        if self.process is None or self.process.poll() is not None:
            return
        subprocess.run(
            _as_owner([_binary("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"]),
            check=False, capture_output=True, timeout=60,
        )
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=10)


@contextlib.contextmanager
def pg_cluster(*, durable: bool = False) -> Iterator[PgServer]:
    """A new cluster, stopped and removed on exit; ``durable`` keeps fsync on (for benchmarks)."""
    root = Path(tempfile.mkdtemp(prefix="snoozebot-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    server = PgServer(root, free_port())
    try:
        pwfile = root / "pw"
        pwfile.write_text(_ADMIN_PASSWORD + "\n")
        if os.geteuid() == 0:
            os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        subprocess.run(
            _as_owner([
                _binary("initdb"), "-D", str(root / "data"), "-U", _ADMIN, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync",
            ]),
            check=True, capture_output=True, timeout=120,
        )
        server.settings = "" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        server.start()
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
