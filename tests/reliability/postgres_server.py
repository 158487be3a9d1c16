"""A PostgreSQL server of a test's own: a cluster made by initdb in a temporary folder
on a port of its own, so a test can stop and start a real server without touching the
machine's (which other tests and the session share)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port

SERVER_USER = "postgres"  # PostgreSQL refuses to run as root


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's versioned folder."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versioned = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versioned[-1]).parent if versioned else None


def unavailable() -> str | None:
    """Why no server of a test's own can run here, or None."""
    if find_binaries() is None:
        return "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
    return None


class PostgresServer:
    """initdb, then ``pg_ctl start``/``stop`` as often as a test likes, on one port."""

    def __init__(self, database: str = "whisperops") -> None:
        self.bin = find_binaries()
        assert self.bin is not None, unavailable()
        # Under /tmp, not pytest's tmp_path: the server user must be able to reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="whisperops-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.database = database
        self.as_user: tuple[str, ...] = ()
        if os.geteuid() == 0:
            self.as_user = ("runuser", "-u", SERVER_USER, "--")
            shutil.chown(self.folder, SERVER_USER)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *arguments: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / tool), *arguments],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """As a restart or a failover does: every session is cut (fast shutdown)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self) -> None:
        import psycopg2

        admin = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{self.database}"')
        admin.close()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
