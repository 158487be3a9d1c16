"""Database binding: one DatabaseProxy that every model uses, bound at run time."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from peewee import Database, DatabaseProxy, Model, PostgresqlDatabase
from playhouse import db_url

from whisperops.errors import ConfigError

database_proxy = DatabaseProxy()

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
