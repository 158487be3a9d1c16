"""UTC time in the two forms the project uses: naive in the database, aware everywhere else.

Timestamps that processes on different hosts write and compare (``updated_at``, the
step times, the sweep's cutoff) come from the database server's clock,
:func:`db_now`: a worker whose clock runs 10 minutes behind would otherwise be swept
as stuck while healthy, and one ahead would hide a dead worker for 10 minutes.

Every ``DateTimeField`` stores naive UTC (SQLite has no time zones, and the columns
are ``timestamp without time zone`` on PostgreSQL). Values handed to people or
compared with values from elsewhere are made aware with :func:`as_utc`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

from whisperops.db import database_proxy, is_postgres


def utcnow() -> datetime:
    """Current UTC time as a naive datetime: the form stored in every DateTimeField."""
    return datetime.now(UTC).replace(tzinfo=None)


def db_now() -> datetime:
    """The database server's current UTC time, naive as stored: the one clock every host
    shares. SQLite is a file on this host, so its clock is this host's."""
    if not is_postgres(database_proxy):
        return utcnow()
    # clock_timestamp(), not now(): inside a transaction now() is when it began.
    cursor = database_proxy.execute_sql("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
    return cursor.fetchone()[0]


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` as an aware UTC datetime; a naive one is taken as stored (UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
