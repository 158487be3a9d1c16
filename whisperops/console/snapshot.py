"""What one console refresh reads: rows, counts, queues, workers. No Textual here.

Reads go to the DB (the truth about recordings) and RQ's own registries; a part
that is unreachable is reported as an error string and the rest still arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from peewee import fn
from redis import Redis

from whisperops.backlog import Backlog, read_backlog, transcribe_workers
from whisperops.clock import utcnow
from whisperops.config import Settings
from whisperops.console.rows import stuck_soon
from whisperops.db import database_proxy
from whisperops.models import Recording, Status
from whisperops.ops.intake import Intake, read_intake
from whisperops.ops.queries import count_by_status
from whisperops.schemas import RecordingListItem


class SortOrder(str, Enum):
    """How the table is ordered; processing rows always come first."""

    UPDATED = "last update"
    AGE = "age"


@dataclass(frozen=True)
class Query:
    status: Status | None = None
    search: str = ""
    sort: SortOrder = SortOrder.UPDATED
    limit: int = 200
    # A group of recordings picked elsewhere (the stats screen's failure group): only
    # these ids, named by ``label`` in the status bar.
    ids: frozenset[int] | None = None
    label: str = ""


@dataclass
class Snapshot:
    rows: list[RecordingListItem] = field(default_factory=list)
    matching: int = 0
    counts: dict[Status, int] = field(default_factory=dict)
    queue_depths: dict[str, int] = field(default_factory=dict)
    workers_online: int | None = None
    fetched_at: datetime | None = None
    db_error: str | None = None
    redis_error: str | None = None
    intake: Intake | None = None  # None until a poll has read it
    backlog: Backlog | None = None  # None until a poll has read the database
    stuck_soon: int = 0  # processing rows shown that the sweep may soon take


def _first_line(exc: BaseException, settings: Settings) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for secret in (settings.database_url, settings.redis_url):
        if secret:  # never show a password that an error message happened to quote
            text = text.replace(secret.get_secret_value(), str(secret))
    return text


def read_recordings(query: Query) -> tuple[list[RecordingListItem], int, dict[Status, int]]:
    """The rows to show, how many match, and the count per status.

    Each status is read separately through its (status, updated_at) or
    (status, created_at) index and merged here: the cost follows the rows shown,
    not the size of the table. Processing rows come first, so they are read first
    and the other statuses only fill the room they leave (at a million recordings
    with 200 processing, nothing else is read).
    """
    counts = count_by_status()
    statuses = [query.status] if query.status is not None else list(Status)
    statuses.sort(key=lambda status: status is not Status.PROCESSING)
    by_age = query.sort is SortOrder.AGE
    moment_column = Recording.created_at if by_age else Recording.updated_at
    order = (moment_column, Recording.id) if by_age else (moment_column.desc(), Recording.id.desc())
    # Sort keys only (cheap tuples) for the rows that can still be shown; full rows
    # are loaded below for the `limit` that are.
    candidates: list[tuple] = []
    processing = 0
    matching = 0
    for status in statuses:
        select = Recording.select(Recording.id, Recording.status, moment_column).where(
            Recording.status == status
        )
        if query.ids is not None:
            select = select.where(Recording.id.in_(sorted(query.ids)))
        if query.search:
            select = select.where(fn.LOWER(Recording.file_name).contains(query.search.lower()))
        if query.search or query.ids is not None:
            matching += select.count()
        else:
            matching += counts[status]
        room = query.limit - processing
        if room > 0:
            found = list(select.order_by(*order).limit(room).tuples())
            candidates.extend(found)
            if status is Status.PROCESSING:
                processing = len(found)

    def sort_key(candidate: tuple) -> tuple:
        recording_id, status, moment = candidate
        seconds = moment.timestamp() if by_age else -moment.timestamp()
        return (status != Status.PROCESSING, seconds, recording_id if by_age else -recording_id)

    candidates.sort(key=sort_key)
    shown = [candidate[0] for candidate in candidates[: query.limit]]
    fields = [Recording._meta.fields[name] for name in RecordingListItem.model_fields]
    loaded = (
        {row["id"]: row for row in Recording.select(*fields).where(Recording.id.in_(shown)).dicts()}
        if shown
        else {}
    )
    rows = [RecordingListItem.model_validate(loaded[i]) for i in shown if i in loaded]
    return rows, matching, counts


def read_queues(connection) -> tuple[dict[str, int], int]:
    from whisperops.jobs.workers import count_workers, queue_depths

    # whisperops' workers only: a shared Redis may hold other applications' workers.
    return queue_depths(connection), count_workers(connection)


class HeldRedis:
    """One Redis client kept across the main screen's polls (they never overlap).

    A connection made afresh at every poll cost 5 ms of each refresh. After a poll
    that could not reach Redis the client is dropped, and the next poll asks the
    factory again (the stack's embedded Valkey may have come back on another port).
    """

    def __init__(self, factory: Callable[[], Redis]) -> None:
        self.factory = factory
        self.client: Redis | None = None

    def __call__(self) -> Redis:
        if self.client is None:
            self.client = self.factory()
        return self.client

    def forget(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()


def take_snapshot(
    settings: Settings, query: Query, redis_factory: Callable, now: Callable[[], datetime] = utcnow
) -> Snapshot:
    snapshot = Snapshot(fetched_at=now())
    try:
        with database_proxy.connection_context():
            snapshot.rows, snapshot.matching, snapshot.counts = read_recordings(query)
            threshold = settings.stuck_processing_threshold_sec
            snapshot.stuck_soon = sum(
                stuck_soon(row, snapshot.fetched_at, threshold) is not None for row in snapshot.rows
            )
            snapshot.intake = read_intake()
    except Exception as exc:  # shown as a banner; the next poll tries again
        snapshot.db_error = _first_line(exc, settings)
    transcribe: int | None = None  # the backlog's workers; unknown while Redis is down
    try:
        connection = redis_factory()
        snapshot.queue_depths, snapshot.workers_online = read_queues(connection)
        transcribe = transcribe_workers(connection)
    except Exception as exc:
        snapshot.redis_error = _first_line(exc, settings)
    if snapshot.db_error is None:
        try:
            with database_proxy.connection_context():
                snapshot.backlog = read_backlog(settings, transcribe, snapshot.fetched_at)
        except Exception as exc:
            snapshot.db_error = _first_line(exc, settings)
    return snapshot
