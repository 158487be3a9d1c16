"""`whisperops status`: the farm at a glance, as one pydantic model (its --json shape).

Read from the database (counts, backlog, intake) and RQ's registries (workers,
queue depths). Redis down still gives the database part: the workers and queues
are then None and ``redis_error`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel

from whisperops.backlog import Backlog, read_backlog, transcribe_workers
from whisperops.config import Settings
from whisperops.models import Status
from whisperops.ops.intake import read_intake
from whisperops.ops.queries import count_by_status
from whisperops.schemas import UtcDatetime


class BacklogReport(BaseModel):
    """The backlog: audio left and when it will be done (None: not known yet)."""

    queued: int
    queued_audio_sec: float
    queued_estimated: int
    processing: int
    processing_remaining_sec: float
    audio_sec: float
    pace: float | None
    workers: int | None
    eta_sec: float | None
    line: str

    @classmethod
    def of(cls, backlog: Backlog) -> BacklogReport:
        """The report of a :class:`~whisperops.backlog.Backlog`."""
        return cls(
            queued=backlog.queued,
            queued_audio_sec=backlog.queued_audio_sec,
            queued_estimated=backlog.queued_estimated,
            processing=backlog.processing,
            processing_remaining_sec=backlog.processing_remaining_sec,
            audio_sec=backlog.audio_sec,
            pace=backlog.pace,
            workers=backlog.workers,
            eta_sec=backlog.eta_sec,
            line=backlog.describe(),
        )


class IntakeReport(BaseModel):
    paused: bool
    changed_at: UtcDatetime | None = None
    changed_by: str | None = None
    reason: str | None = None
    line: str


class StatusReport(BaseModel):
    """What `whisperops status --json` prints."""

    generated_at: UtcDatetime
    counts: dict[Status, int]
    backlog: BacklogReport
    intake: IntakeReport
    workers_online: int | None  # transcribe workers; None when Redis is down
    queue_depths: dict[str, int] | None
    redis_error: str | None = None


def read_workers_and_queues(connection) -> tuple[int, dict[str, int]]:
    """Online transcribe workers and the depth of each whisperops queue."""
    from whisperops.jobs.workers import queue_depths

    return transcribe_workers(connection), queue_depths(connection)


def build_status_report(
    settings: Settings, redis_factory: Callable, now: datetime, explain: Callable
) -> StatusReport:
    """The report; the database must be bound. ``explain`` turns a Redis error into a line."""
    workers = depths = redis_error = None
    try:
        workers, depths = read_workers_and_queues(redis_factory())
    except Exception as exc:  # the database part still answers
        redis_error = str(explain(exc))
    counts = count_by_status()
    intake = read_intake()
    return StatusReport(
        generated_at=now,
        counts=counts,
        backlog=BacklogReport.of(read_backlog(settings, workers, now)),
        intake=IntakeReport(
            paused=intake.paused,
            changed_at=intake.changed_at,
            changed_by=intake.changed_by,
            reason=intake.reason,
            line=intake.describe(),
        ),
        workers_online=workers,
        queue_depths=depths,
        redis_error=redis_error,
    )
