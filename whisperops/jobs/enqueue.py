"""Putting recordings on the transcribe queue: oldest first, bounded in flight,
never two live jobs for one recording, one job id per (recording, attempt).

The periodic sweep runs :func:`enqueue_queued` after its stuck detection;
``whisperops enqueue`` runs it once by hand. While intake is paused
(:mod:`whisperops.ops.intake`) it enqueues nothing. Its cost follows the number of
active recordings: the queued rows are read through the (status, updated_at)
index, at most as many as there is room for plus the jobs already waiting.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from whisperops.config import Settings
from whisperops.jobs.names import (
    FAILURE_TTL_SEC,
    PROCESS_RECORDING,
    RESULT_TTL_SEC,
    TRANSCRIBE_QUEUE,
    job_id,
)
from whisperops.models import Recording, Status
from whisperops.ops.intake import Intake, read_intake
from whisperops.ops.transitions import take_next_attempt

log = logging.getLogger(__name__)

_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


def transcribe_queue(connection: Redis) -> Queue:
    return Queue(TRANSCRIBE_QUEUE, connection=connection)


def enqueue_attempt(
    queue: Queue, recording: Recording, settings: Settings, attempt: int | None = None
) -> Job:
    """Enqueue the job for ``attempt`` (the recording's current one by default).

    The attempt was taken by the transition that queued the recording (an operator's
    requeue) or by :func:`enqueue_recording`; it is never bumped here.
    """
    attempt = recording.attempt if attempt is None else attempt
    job = queue.enqueue(
        PROCESS_RECORDING,
        recording.id,
        attempt,
        job_id=job_id(recording.id, attempt),
        job_timeout=settings.job_timeout_sec or -1,
        result_ttl=RESULT_TTL_SEC,
        failure_ttl=FAILURE_TTL_SEC,
        description=f"process_recording #{recording.id} {recording.file_name!r} attempt {attempt}",
    )
    log.info(
        "Enqueued recording_id=%s file_name=%r attempt %s as job %s",
        recording.id,
        recording.file_name,
        attempt,
        job.id,
    )
    return job


def enqueue_recording(queue: Queue, recording: Recording, settings: Settings) -> Job | None:
    """Take the recording's next attempt and enqueue a job for it; None if another
    enqueuer took it first."""
    attempt = take_next_attempt(recording)
    if attempt is None:
        return None
    return enqueue_attempt(queue, recording, settings, attempt)


@dataclass(frozen=True)
class EnqueueReport:
    enqueued: list[int]
    already_live: list[int]
    in_flight: int  # recordings running plus jobs waiting (see in_flight), before this run
    paused: Intake | None = None  # set when intake is paused and nothing was enqueued
    held: int = 0  # paused: the recordings that stay queued

    def describe(self) -> str:
        """'enqueued 2 (#4, #5)', or what the pause holds back."""
        if self.paused is not None:
            return (
                f"intake {self.paused.describe()}: enqueued 0, {self.held} stay queued "
                "until `whisperops resume`"
            )
        ids = f" (#{', #'.join(map(str, self.enqueued))})" if self.enqueued else ""
        return f"enqueued {len(self.enqueued)}{ids}"


def live_recording_ids(queue: Queue, recordings: list[Recording]) -> set[int]:
    """Recordings whose current attempt's job is still queued or running (one round trip)."""
    candidates = [r for r in recordings if r.attempt > 0]
    jobs = Job.fetch_many(
        [job_id(r.id, r.attempt) for r in candidates], connection=queue.connection
    )
    return {
        recording.id
        for recording, job in zip(candidates, jobs, strict=True)
        # None: never enqueued, or lost with a Redis restart or flush.
        if job is not None and job.get_status(refresh=False) in _LIVE
    }


def in_flight(queue: Queue) -> tuple[int, int]:
    """Recordings being worked on now plus jobs waiting, and of those the waiting jobs.

    A job a worker has just taken is for a moment neither waiting in the queue nor
    PROCESSING in the database (it is claimed a few milliseconds later); RQ keeps it
    in its intermediate queue or started registry meanwhile, so those count too: the
    running ones are the larger of the database's and RQ's view. The database is read
    first and Redis after it in one transaction (waiting, taken, started at one
    instant, by job id, since RQ briefly lists a job in both of the last two): a
    job cannot then be counted both waiting and running, which reading the queue
    before the rest did whenever a worker took a job in between.
    """
    processing = Recording.select().where(Recording.status == Status.PROCESSING).count()
    pipeline = queue.connection.pipeline(transaction=True)
    pipeline.llen(queue.key)
    pipeline.lrange(queue.intermediate_queue_key, 0, -1)
    # Started entries not yet expired, read without the registry's cleanup (which
    # would have side effects on RQ's bookkeeping of running jobs).
    pipeline.zrangebyscore(queue.started_job_registry.key, time.time(), "+inf")
    waiting, taken, started = pipeline.execute()
    # Started entries are "<job id>:<execution id>" (rq 3.0).
    running = {_text(job) for job in taken} | {_text(e).rsplit(":", 1)[0] for e in started}
    return max(processing, len(running)) + waiting, waiting


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def room_in_flight(queue: Queue, settings: Settings) -> int:
    """How many more jobs ``max_in_flight`` allows now (running plus waiting count)."""
    return max(0, settings.max_in_flight - in_flight(queue)[0])


def enqueue_queued(queue: Queue, settings: Settings) -> EnqueueReport:
    """Enqueue the oldest queued recordings without a live job, up to the room
    ``max_in_flight`` leaves; nothing while intake is paused."""
    flying, waiting_jobs = in_flight(queue)
    intake = read_intake()
    if intake.paused:
        held = Recording.select().where(Recording.status == Status.QUEUED).count()
        report = EnqueueReport([], [], flying, paused=intake, held=held)
        log.info("Enqueued nothing: %s", report.describe())
        return report
    room = max(0, settings.max_in_flight - flying)
    # A list, not a cursor: each enqueue updates the row (and its index position).
    # Up to `waiting_jobs` of these may already be live; the rest fill the room.
    queued = (
        list(
            Recording.select()
            .where(Recording.status == Status.QUEUED)
            .order_by(Recording.updated_at, Recording.id)
            .limit(room + waiting_jobs)
        )
        if room
        else []
    )
    live = live_recording_ids(queue, queued)
    enqueued = []
    for recording in queued:
        if len(enqueued) >= room:
            break
        if recording.id not in live and enqueue_recording(queue, recording, settings):
            enqueued.append(recording.id)
    return EnqueueReport(enqueued, sorted(live), flying)


def withdraw_waiting(queue: Queue) -> list[str]:
    """Take the jobs still waiting on ``queue`` off it (intake paused); their ids.

    Each is removed from the queue list first (LREM is atomic: a job a worker took
    meanwhile is left to it) and then deleted, so it no longer counts as live and the
    enqueuer enqueues its recording again, at a new attempt, after the resume. The
    recordings stay QUEUED at their attempt.
    """
    withdrawn = []
    for waiting in queue.get_job_ids():
        if queue.remove(waiting):
            job = Job.fetch_many([waiting], connection=queue.connection)[0]
            if job is not None:
                job.delete(remove_from_queue=False)
            withdrawn.append(waiting)
    if withdrawn:
        log.info("Withdrew %d waiting jobs from %s: intake paused", len(withdrawn), queue.name)
    return withdrawn
