"""Enqueue queued recordings: oldest first, bounded in flight, never two live jobs.

The periodic sweep runs this after its stuck detection; ``whisperops enqueue``
runs it once by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from whisperops.config import Settings
from whisperops.models import Recording, Status
from whisperops.queueing import enqueue_recording
from whisperops.queues import job_id

_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


@dataclass(frozen=True)
class EnqueueReport:
    enqueued: list[int]
    already_live: list[int]
    waiting: int  # queued rows left for later by the in-flight bound


def has_live_job(queue: Queue, recording: Recording) -> bool:
    """Whether the job for the recording's current attempt is still queued or running."""
    if recording.attempt == 0:
        return False
    try:
        job = Job.fetch(job_id(recording.id, recording.attempt), connection=queue.connection)
    except NoSuchJobError:
        return False  # never enqueued, or lost with a Redis restart/flush
    return job.get_status(refresh=False) in _LIVE


def enqueue_queued(queue: Queue, settings: Settings) -> EnqueueReport:
    processing = Recording.select().where(Recording.status == Status.PROCESSING).count()
    # A list, not a cursor: each enqueue updates the row (and its index position).
    queued = list(
        Recording.select()
        .where(Recording.status == Status.QUEUED)
        .order_by(Recording.created_at, Recording.id)
    )
    live = [r for r in queued if has_live_job(queue, r)]
    room = max(0, settings.max_in_flight - processing - len(live))
    enqueued = []
    candidates = [r for r in queued if r not in live]
    for recording in candidates[:room]:
        if enqueue_recording(queue, recording, settings) is not None:
            enqueued.append(recording.id)
    return EnqueueReport(enqueued, [r.id for r in live], max(0, len(candidates) - room))
