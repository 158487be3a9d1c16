"""The transcribe worker: an RQ SimpleWorker that keeps the Whisper model loaded.

RQ's default Worker forks a child ("work horse") per job, so a model loaded in a
child dies with it and every job would load it again. SimpleWorker runs each job
in the worker process itself: the model is loaded once at start (see
``transcriber.load_model``'s per-process cache) and reused by every job. The price
is that a job that crashes the interpreter takes the worker with it; the sweep
requeues its recording, and the process manager restarts the worker.
"""

from __future__ import annotations

import logging

from rq import SimpleWorker

from whisperops.config import Settings
from whisperops.queues import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
from whisperops.redis_server import connect_redis
from whisperops.runtime import init_runtime

log = logging.getLogger(__name__)


class TranscribeWorker(SimpleWorker):
    """SimpleWorker whose SIGTERM also tells the running job to release its recording.

    RQ's warm shutdown waits for the job to finish, which for a long transcription
    outlasts any process manager's patience. Instead the job stops at the next
    segment, puts the recording back to QUEUED (no retry used) and returns; then
    the worker exits. A second SIGTERM is RQ's cold shutdown.
    """

    def request_stop(self, signum, frame) -> None:
        from whisperops.pipeline.job import shutdown_requested

        shutdown_requested.set()
        super().request_stop(signum, frame)


def build_transcribe_worker(settings: Settings, name: str | None = None) -> SimpleWorker:
    init_runtime(settings)
    from whisperops.pipeline.job import shutdown_requested
    from whisperops.pipeline.transcriber import load_model

    load_model(settings)  # once per process, before the first job arrives
    shutdown_requested.clear()
    return TranscribeWorker([TRANSCRIBE_QUEUE], connection=connect_redis(settings), name=name)


def build_maintenance_worker(settings: Settings, name: str | None = None) -> SimpleWorker:
    """Serves only the sweep, so a long transcription can never delay it."""
    init_runtime(settings)
    return SimpleWorker([MAINTENANCE_QUEUE], connection=connect_redis(settings), name=name)


def run_worker(
    settings: Settings, burst: bool = False, name: str | None = None, maintenance: bool = False
) -> bool:
    build = build_maintenance_worker if maintenance else build_transcribe_worker
    worker = build(settings, name)
    log.info(
        "%s worker %s listening on %s%s",
        "Maintenance" if maintenance else "Transcribe",
        worker.name,
        worker.queue_names()[0],
        " (burst)" if burst else "",
    )
    return worker.work(burst=burst, logging_level=settings.log_level, with_scheduler=False)
