"""Database binding: one DatabaseProxy that every model uses, bound at run time."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from peewee import (
    Database,
    DatabaseProxy,
    InterfaceError,
    Model,
    OperationalError,
    PostgresqlDatabase,
)
from playhouse import db_url

from whisperops.errors import ConfigError

database_proxy = DatabaseProxy()
log = logging.getLogger(__name__)
T = TypeVar("T")

# Milliseconds a SQLite writer waits for another writer before giving up. Several
# worker processes, the sweep and the console share one file; WAL lets readers
# proceed, and this lets writers queue instead of failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


class BaseModel(Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


POSTGRES_CONNECT_TIMEOUT_SEC = 10
"""A host that drops packets would otherwise hold a command for the kernel's ~2 min."""

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def open_database(url: str) -> Database:
    """Return an unconnected peewee database for a validated DATABASE_URL."""
    params = db_url.parse(url)
    if urlsplit(url).scheme == "sqlite":
        path = params["database"]
        if path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"DATABASE_URL: cannot create the folder of the SQLite database {path} "
                    f"({exc.strerror}); create it or fix DATABASE_URL"
                ) from None
        options = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "pragmas": dict(SQLITE_PRAGMAS)}
    else:  # PostgreSQL; a connect_timeout in the URL wins
        options = {"connect_timeout": params.get("connect_timeout", POSTGRES_CONNECT_TIMEOUT_SEC)}
    return db_url.connect(url, **options)


def bind_database(url: str) -> Database:
    """Open the database at ``url`` and bind every model to it."""
    database = open_database(url)
    database_proxy.initialize(database)
    return database


def is_postgres(database: Database | DatabaseProxy) -> bool:
    target = database.obj if isinstance(database, DatabaseProxy) else database
    return isinstance(target, PostgresqlDatabase)


OUTAGE_RETRY_SEC = 120
"""How long a job's write waits for PostgreSQL to come back (a restart, a failover, a
killed connection) before the job gives up; the stuck sweep then has the recording."""


def through_outage(action: Callable[[], T], who: str, retry_sec: float = OUTAGE_RETRY_SEC) -> T:
    """Run ``action`` (one statement, or several that are safe to repeat), reconnecting
    with backoff while PostgreSQL is unreachable.

    Only outside a transaction: a transaction cut off midway is its owner's to
    redo as a whole. SQLite's errors are not outages (a locked file already waits
    ``SQLITE_BUSY_TIMEOUT_MS``), so they are raised at once.
    """
    deadline, delay, down_since = time.monotonic() + retry_sec, 0.25, None
    while True:
        try:
            result = action()
        except (OperationalError, InterfaceError) as exc:
            if not is_postgres(database_proxy) or database_proxy.in_transaction():
                raise
            if time.monotonic() + delay > deadline:
                raise
            if down_since is None:
                down_since = time.monotonic()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no reason"
                log.warning("%s: the database unreachable (%s); retrying", who, reason)
            database_proxy.close()  # the broken connection; the next statement opens one
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        if down_since is not None:
            log.warning(
                "%s: the database reachable again after %.0fs", who, time.monotonic() - down_since
            )
        return result
