"""The sweep: find stuck recordings and hand them to their transition, then enqueue.

rq-scheduler enqueues :func:`run_scheduled_sweep` on the maintenance queue every
``sweep_interval_sec``; its own worker runs it, so a long transcription never
delays it. ``whisperops sweep`` runs one by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis import Redis

from whisperops.clock import db_now, utcnow
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.health.service_errors import Outage, ServiceUnavailable, database_error
from whisperops.jobs.enqueue import EnqueueReport, enqueue_queued, transcribe_queue
from whisperops.jobs.names import STUCK_COUNTER_KEY, SWEEP_LOCK_KEY
from whisperops.models import Recording, Status
from whisperops.ops import transitions

log = logging.getLogger(__name__)
# The maintenance worker runs every scheduled sweep in one process: a database outage is
# logged once when it starts and once when a sweep gets through again.
database_outage = Outage("Sweep: the database", log)


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    enqueue: EnqueueReport | None = None
    skipped: bool = False  # another sweep ran within this interval
    database_down: bool = False  # the database did not answer: the next sweep tries again

    def describe(self) -> str:
        if self.database_down:
            return "sweep skipped: the database is unreachable"
        if self.skipped:
            return "sweep skipped: another sweep ran within this interval"
        return f"stuck: {len(self.requeued)} requeued, {len(self.failed)} failed; " + (
            self.enqueue.describe() if self.enqueue else "enqueued 0"
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
        log.warning(
            "Stuck recording id=%s file_name=%r processing_step=%s processing_segments_count=%s "
            "updated_at=%s age_sec=%d",
            recording.id,
            recording.file_name,
            recording.processing_step,
            recording.processing_segments_count,
            recording.updated_at.isoformat(),
            (now - recording.updated_at).total_seconds(),
        )
        retries = recording.retry_count + 1
        give_up = retries >= settings.max_retries
        if transitions.recover_stuck(recording, now, cutoff, give_up):
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
    """One sweep: stuck detection, then enqueue queued recordings.

    Stuck recovery runs while intake is paused too: stuck rows go back to QUEUED and
    wait there for the resume.
    """
    now = now or db_now()
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
    try:
        # A connection of this sweep's own: one cut off by a restart is not reused.
        with database_proxy.connection_context():
            report = enqueue_pending_recordings(settings, connection)
    except Exception as exc:
        problem = database_error(exc, settings.database_url.get_secret_value())
        if not isinstance(problem, ServiceUnavailable):  # a wrong password is not an outage
            raise
        # Nothing half-done stays: each recovery is its own transaction, and the next
        # sweep finds what this one did not get to.
        database_outage.down(problem, "sweeps are skipped until it answers")
        return SweepReport(skipped=True, database_down=True).describe()
    database_outage.up()
    return report.describe()
