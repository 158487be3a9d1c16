"""Putting recordings on the transcribe queue: one job id per (recording, attempt)."""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from rq.job import Job

from whisperops.config import Settings
from whisperops.db import utcnow
from whisperops.models import Recording, Status
from whisperops.queues import TRANSCRIBE_QUEUE, job_id

log = logging.getLogger(__name__)

# Referenced by name so enqueuers never import the pipeline (and faster-whisper).
PROCESS_RECORDING = "whisperops.pipeline.job.process_recording"


def transcribe_queue(connection: Redis) -> Queue:
    return Queue(TRANSCRIBE_QUEUE, connection=connection)


def enqueue_recording(queue: Queue, recording: Recording, settings: Settings) -> Job | None:
    """Bump the recording's attempt and enqueue a job for it.

    The bump is a guarded UPDATE, so two enqueuers racing on the same row cannot
    both win; the loser gets None. A job left by an earlier attempt is fenced off
    by the bump and skips itself when a worker picks it up.
    """
    attempt = recording.attempt + 1
    won = (
        Recording.update(attempt=attempt, updated_at=utcnow())
        .where(
            (Recording.id == recording.id)
            & (Recording.attempt == recording.attempt)
            & (Recording.status == Status.QUEUED.value)
        )
        .execute()
    )
    if won != 1:
        return None
    job = queue.enqueue(
        PROCESS_RECORDING,
        recording.id,
        attempt,
        job_id=job_id(recording.id, attempt),
        job_timeout=settings.job_timeout_sec or -1,
        result_ttl=24 * 3600,
        failure_ttl=7 * 24 * 3600,
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
