"""UTC time in the two forms the project uses: naive in the database, aware everywhere else.

Every ``DateTimeField`` stores naive UTC (SQLite has no time zones, and the columns
are ``timestamp without time zone`` on PostgreSQL). Values handed to people or
compared with values from elsewhere are made aware with :func:`as_utc`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    """Current UTC time as a naive datetime: the form stored in every DateTimeField."""
    return datetime.now(UTC).replace(tzinfo=None)


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
