"""The transcribe worker: an RQ SimpleWorker that keeps the Whisper model loaded.

RQ's default Worker forks a child ("work horse") per job, so a model loaded in a
child dies with it and every job would load it again. SimpleWorker runs each job
in the worker process itself: the model is loaded once at start (see
``transcriber.load_model``'s per-process cache) and reused by every job. The price
is that a job that crashes the interpreter takes the worker with it; the sweep
requeues its recording, and the process manager restarts the worker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.worker import WorkerStatus

from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.health.service_errors import Outage
from whisperops.jobs.names import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
from whisperops.redis_server import REDIS_DOWN, connect_redis
from whisperops.runtime import init_runtime
from whisperops.worker.layout import applied, concrete, resolve_layout

log = logging.getLogger(__name__)


RESTART_MAX_WAIT_SEC = 30
# A loop that ran this long before ending was healthy: the next restart waits 1 s again.
HEALTHY_RUN_SEC = 60


class RetryLinesToOutage(logging.Filter):
    """RQ logs every retry of a lost Redis connection (its pubsub thread every 2 s);
    the outage is logged once when it starts instead, and once when it ends.

    Matches the text of RQ's retry line (rq 3.0's dequeue loop and pubsub handler)."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if "could not connect to Redis instance" not in str(record.msg):
            return True
        reason = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 1 else ""
        self.outage.down(reason if isinstance(reason, BaseException) else Exception(reason))
        return False


class OutlivesRedis(SimpleWorker):
    """A worker that rides out a Redis restart or flush instead of dying with it.

    RQ's own loop already retries a failed dequeue; what kills it is a heartbeat or
    a job's bookkeeping while Redis is down. And after a restart or flush the worker
    is gone from RQ's registry (`rq info`, the metrics, the no-workers alert would
    all say there is none) until it registers again, which it does here at its next
    heartbeat. Jobs lost with Redis are not this class's concern: the recordings
    are rows in the database and the sweep enqueues them again.

    It also heartbeats while busy. SimpleWorker does not (only the forking Worker's
    parent does): during a 30-minute transcription its Redis key would expire after
    8 minutes, `rq info` and the metrics would show no worker, and RQ would
    take the running job for abandoned.
    """

    stop_asked = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # One per worker: the heartbeat thread, RQ's loop and its pubsub thread share it.
        self.redis_outage = Outage(f"Worker {self.name}: Redis", log)
        # RQ's logger is shared: one worker per process in production, the latest here.
        for earlier in [f for f in self.log.filters if isinstance(f, RetryLinesToOutage)]:
            self.log.removeFilter(earlier)
        self.log.addFilter(RetryLinesToOutage(self.redis_outage))

    def handle_warm_shutdown_request(self) -> None:
        # RQ's hook for a warm stop, busy or idle; RQ itself notes only a busy one.
        self.stop_asked = True
        super().handle_warm_shutdown_request()

    # Override (rq 3.0): RQ's subscribe with a 1 s poll instead of 60 s. RQ's unsubscribe,
    # at every shutdown, calls redis-py's PubSubWorkerThread.stop(), which (redis-py 8)
    # joins the thread with no timeout; a thread that read the unsubscribe reply before
    # the stop waits a whole poll for a new subscription, so the worker took up to a
    # minute to exit after SIGTERM (tests/reliability/test_shutdown_faults.py).
    def subscribe(self) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )

    # Override (rq 3.0): RQ records a busy worker's stop in Redis from inside the signal
    # handler, where an error would land in the running job and fail its recording.
    def set_shutdown_requested_date(self) -> None:
        try:
            super().set_shutdown_requested_date()
        except REDIS_DOWN as exc:
            log.warning("Worker %s: stop noted; Redis unreachable to record it: %s", self.name, exc)

    # Override (rq 3.0): SimpleWorker.execute_job, plus heartbeats from a thread while the
    # job runs (SimpleWorker sends none until the job is over).
    def execute_job(self, job, queue) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.job_monitoring_interval):
                self.heartbeat()  # registers again if Redis lost us
                try:
                    self.maintain_heartbeats(job, execution)
                except REDIS_DOWN as exc:
                    self.redis_outage.down(exc, "heartbeat")

        beating = threading.Thread(target=beat, name=f"rq-heartbeat-{self.name}", daemon=True)
        beating.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            beating.join()
        self.set_state(WorkerStatus.IDLE)

    # Override (rq 3.0): RQ's heartbeat only extends the worker's key, so a worker that a
    # Redis restart or flush dropped from RQ's registry would stay out of it.
    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None:  # part of RQ's own job bookkeeping: leave it be
            return super().heartbeat(timeout, pipeline)
        try:
            if not self.connection.sismember(self.redis_workers_keys, self.key):
                log.warning(
                    "Worker %s is not registered in Redis (restarted or flushed?); "
                    "registering again",
                    self.name,
                )
                self.connection.delete(self.key)
                self.register_birth()
            beat = super().heartbeat(timeout)
        except REDIS_DOWN as exc:
            self.redis_outage.down(exc, "heartbeat")
            return None
        self.redis_outage.up()
        return beat


class TranscribeWorker(OutlivesRedis):
    """SimpleWorker whose SIGTERM also tells the running job to release its recording.

    RQ's warm shutdown waits for the job to finish, which for a long transcription
    outlasts any process manager's patience. Instead the job stops at the next
    segment, puts the recording back to QUEUED (no retry used) and returns; then
    the worker exits. A second SIGTERM is RQ's cold shutdown.
    """

    def handle_warm_shutdown_request(self) -> None:
        from whisperops.pipeline.job_state import shutdown_requested

        shutdown_requested.set()
        super().handle_warm_shutdown_request()


def prepare_transcribe_process(settings: Settings) -> None:
    """What a transcribe worker process does once, before its first job."""
    init_runtime(settings)
    from whisperops.pipeline.job_state import pace, shutdown_requested
    from whisperops.pipeline.transcriber import load_model
    from whisperops.worker.layout import cached_calibration, calibration_key

    load_model(settings)  # once per process, before the first job arrives
    calibration = cached_calibration(
        settings, calibration_key(settings, settings.device, settings.compute_type)
    )
    if calibration is not None:  # the first job's progress estimate starts from it
        pace.initial.update(calibration.pace)
    shutdown_requested.clear()


def build_transcribe_worker(settings: Settings, name: str | None = None) -> SimpleWorker:
    settings = concrete(settings)
    prepare_transcribe_process(settings)
    return TranscribeWorker([TRANSCRIBE_QUEUE], connection=connect_redis(settings), name=name)


class PooledTranscribeWorker(TranscribeWorker):
    """One process of `whisperops worker --processes N`, forked by RQ's WorkerPool.

    The pool builds it with RQ's arguments only; the resolved settings come as a
    class attribute set before the fork (see :func:`run_worker_pool`).
    """

    settings: Settings

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        prepare_transcribe_process(self.settings)

    # Override (rq 3.0): rq.worker_pool.run_worker always passes with_scheduler=True;
    # whisperops schedules its sweep with rq-scheduler, and RQ's scheduler would fork
    # a copy of the model.
    def work(self, *args, **kwargs):
        kwargs["with_scheduler"] = False
        return super().work(*args, **kwargs)


def run_worker_pool(settings: Settings, burst: bool) -> None:
    """``settings.worker_processes`` transcribe workers under RQ's WorkerPool.

    The pool forks them, restarts one that dies (its recording is left to the
    sweep) and on SIGTERM/SIGINT passes the stop on to each, which then releases
    its recording as a single worker does.
    """
    from rq.worker_pool import WorkerPool

    database_proxy.close()  # a connection must not be shared with the forked processes
    worker_class = type("PooledTranscribeWorker", (PooledTranscribeWorker,), {"settings": settings})
    pool = WorkerPool(
        [TRANSCRIBE_QUEUE],
        connection=connect_redis(settings),
        num_workers=settings.worker_processes,
        worker_class=worker_class,
    )
    pool.start(burst=burst, logging_level=settings.log_level)


def build_maintenance_worker(settings: Settings, name: str | None = None) -> SimpleWorker:
    """Serves only the sweep, so a long transcription can never delay it."""
    init_runtime(settings)
    return OutlivesRedis([MAINTENANCE_QUEUE], connection=connect_redis(settings), name=name)


def run_worker(
    settings: Settings, burst: bool = False, name: str | None = None, maintenance: bool = False
) -> bool:
    """Run the worker until it is asked to stop (or, with ``burst``, the queue is empty).

    If RQ's loop ends on its own because Redis went away mid-bookkeeping, the worker
    waits for Redis and starts the loop again, model still loaded: under honcho one
    process exiting stops the whole stack, so a Redis restart must not end it.
    """
    if not maintenance:
        layout = resolve_layout(settings)
        log.info("Worker layout: %s (%s)", layout.describe(), layout.reason)
        settings = applied(settings, layout)
        if settings.worker_processes > 1:
            run_worker_pool(settings, burst)
            return True
    build = build_maintenance_worker if maintenance else build_transcribe_worker
    worker = build(settings, name)
    log.info(
        "%s worker %s listening on %s%s",
        "Maintenance" if maintenance else "Transcribe",
        worker.name,
        worker.queue_names()[0],
        " (burst)" if burst else "",
    )
    wait = 1.0
    worked = False
    while True:
        started = time.monotonic()
        try:
            worked = worker.work(
                burst=burst, logging_level=settings.log_level, with_scheduler=False
            )
        except REDIS_DOWN as exc:  # raised by RQ's teardown, with Redis still down
            worker.redis_outage.down(exc)
        except StopRequested:  # SIGTERM while RQ was starting up or tearing down
            return worked
        if burst or worker.stop_asked:
            return worked
        if time.monotonic() - started >= HEALTHY_RUN_SEC:
            wait = 1.0
        try:
            log.error(
                "Worker %s: its loop ended (Redis unreachable?); starting again in %.0fs",
                worker.name,
                wait,
            )
            time.sleep(wait)
            with contextlib.suppress(Exception):
                worker.unsubscribe()  # teardown may have stopped before its pubsub thread
            worker.register_death()  # so the same name may register again
        except StopRequested:  # SIGTERM while waiting
            return worked
        except REDIS_DOWN:
            pass  # work() retries the connection; the wait grows meanwhile
        wait = min(wait * 2, RESTART_MAX_WAIT_SEC)
