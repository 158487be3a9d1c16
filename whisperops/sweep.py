"""The sweep: recover stuck recordings, then enqueue queued ones.

rq-scheduler enqueues :func:`run_scheduled_sweep` on the maintenance queue every
``sweep_interval_sec``; its own worker runs it, so a long transcription never
delays it. ``whisperops sweep`` runs one by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis

from whisperops.config import Settings
from whisperops.db import utcnow
from whisperops.enqueue import EnqueueReport, enqueue_queued
from whisperops.models import Recording, Status, StepOutcome, StepRun, no_progress
from whisperops.queueing import transcribe_queue
from whisperops.queues import STUCK_COUNTER_KEY, SWEEP_LOCK_KEY

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    enqueue: EnqueueReport | None = None
    skipped: bool = False  # another sweep ran within this interval

    def describe(self) -> str:
        if self.skipped:
            return "sweep skipped: another sweep ran within this interval"
        enqueued = self.enqueue.enqueued if self.enqueue else []
        return (
            f"stuck: {len(self.requeued)} requeued, {len(self.failed)} failed; "
            f"enqueued {len(enqueued)}"
            + (f" (#{', #'.join(map(str, enqueued))})" if enqueued else "")
        )


def stuck_error_message(recording: Recording, age_sec: float) -> str:
    return (
        f"Stuck in step {recording.processing_step or 'unknown'} "
        f"({recording.processing_segments_count or 0} segments); "
        f"last update {int(age_sec // 60)}m ago (cleanup)"
    )


def recover_stuck(settings: Settings, now: datetime, report: SweepReport) -> None:
    """PROCESSING rows not updated for the threshold: log each, then requeue or fail it."""
    cutoff = now - timedelta(seconds=settings.stuck_processing_threshold_sec)
    stuck = list(
        Recording.select()
        .where((Recording.status == Status.PROCESSING) & (Recording.updated_at < cutoff))
        .order_by(Recording.updated_at)
    )
    for recording in stuck:
        age_sec = (now - recording.updated_at).total_seconds()
        log.warning(
            "Stuck recording id=%s file_name=%r processing_step=%s processing_segments_count=%s "
            "updated_at=%s age_sec=%d",
            recording.id,
            recording.file_name,
            recording.processing_step,
            recording.processing_segments_count,
            recording.updated_at.isoformat(),
            age_sec,
        )
        retries = recording.retry_count + 1
        give_up = retries >= settings.max_retries
        changes = {
            "status": Status.FAILED if give_up else Status.QUEUED,
            "error_message": stuck_error_message(recording, age_sec) if give_up else None,
            "retry_count": retries,
            # Fence off the stuck worker: should it wake up, its writes match nothing.
            "attempt": recording.attempt + 1,
            **no_progress(),
            "updated_at": now,
        }
        # Guarded: a worker whose heartbeat landed since we read the row keeps it.
        changed = (
            Recording.update(**changes)
            .where(
                (Recording.id == recording.id)
                & (Recording.attempt == recording.attempt)
                & (Recording.status == Status.PROCESSING.value)
                & (Recording.updated_at < cutoff)
            )
            .execute()
        )
        if changed:
            # The lost worker never closed its step: say in the history what became of it.
            StepRun.update(
                finished_at=now,
                outcome=StepOutcome.FAILED,
                detail=f"abandoned: no update for {int(age_sec)}s (worker lost); "
                f"{'failed' if give_up else 'requeued'} by the sweep",
            ).where(
                (StepRun.recording == recording.id)
                & (StepRun.attempt == recording.attempt)
                & StepRun.finished_at.is_null()
            ).execute()
            (report.failed if give_up else report.requeued).append(recording.id)
            log.warning(
                "%s recording id=%s file_name=%r (retry %d of %d)",
                "Failed stuck" if give_up else "Requeued stuck",
                recording.id,
                recording.file_name,
                retries,
                settings.max_retries,
            )


def enqueue_pending_recordings(
    settings: Settings, connection: Redis, now: datetime | None = None
) -> SweepReport:
    """One sweep: stuck detection, then enqueue queued recordings."""
    now = now or utcnow()
    report = SweepReport()
    recover_stuck(settings, now, report)
    if report.requeued:
        connection.hincrby(STUCK_COUNTER_KEY, "requeued", len(report.requeued))
    if report.failed:
        connection.hincrby(STUCK_COUNTER_KEY, "failed", len(report.failed))
    report.enqueue = enqueue_queued(transcribe_queue(connection), settings)
    log.info("Sweep done: %s", report.describe())
    return report


def run_scheduled_sweep() -> str:
    """The scheduled job: at most one sweep per interval, however many schedulers run."""
    from whisperops.redis_server import connect_redis
    from whisperops.runtime import runtime

    settings = runtime().settings
    connection = connect_redis(settings)
    # Slightly under the interval so the next scheduled run is never locked out.
    hold = max(1, int(settings.sweep_interval_sec * 0.9))
    if not connection.set(SWEEP_LOCK_KEY, utcnow().isoformat(), nx=True, ex=hold):
        return SweepReport(skipped=True).describe()
    return enqueue_pending_recordings(settings, connection).describe()
