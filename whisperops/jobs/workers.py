"""Who is working on what: whisperops' workers from RQ's registry, with their recordings.

Read-only, for ``whisperops workers`` and the console's workers view. A shared
Redis may hold other applications' workers: only those listening on a whisperops
queue are read (through RQ's per-queue worker sets, so the others are not even
loaded). The recordings the workers are on are read in one query, whatever the
number of workers.

When a worker is flagged
------------------------
``stale``: its last heartbeat is older than a live worker of ours lets it get.
RQ heartbeats an idle worker once per blocking dequeue, every ``worker_ttl - 15``
seconds (405 s with RQ's default worker_ttl of 420, which our workers keep); a
busy one heartbeats every ``job_monitoring_interval`` (30 s) from the heartbeat
thread of whisperops.worker.rq_workers.OutlivesRedis. A worker is stale when it
has missed one beat and half of the next: idle after 435 s, busy after 60 s.
(RQ itself drops the worker's key 480 s, resp. 90 s, after its last beat; until
then a dead worker is still listed, flagged.) Heartbeats are stamped with the
worker's clock: a host whose clock is off by more than the slack looks stale.

``moved_on``: the recording's attempt is no longer the job's (requeued, failed
by an operator or the sweep), or the recording has ended (done or failed), or it
is gone. The worker's writes are fenced off; it is still busy until its job
ends. (Queued with the job's attempt is not moved on: the job is starting.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from redis import Redis
from rq import Queue, Worker
from rq.defaults import DEFAULT_JOB_MONITORING_INTERVAL, DEFAULT_WORKER_TTL
from rq.worker import WorkerStatus

from whisperops.clock import as_utc
from whisperops.jobs.names import QUEUES, TRANSCRIBE_QUEUE, parse_job_id
from whisperops.models import Recording, Status
from whisperops.progress import live_progress
from whisperops.schemas import WorkerInfo
from whisperops.text import truncate

IDLE_STALE_SEC = (DEFAULT_WORKER_TTL - 15) + DEFAULT_JOB_MONITORING_INTERVAL
"""An idle worker's heartbeat (every dequeue timeout, worker_ttl - 15 s) this old: stale."""

BUSY_STALE_SEC = 2 * DEFAULT_JOB_MONITORING_INTERVAL
"""A busy worker's heartbeat (every job_monitoring_interval) this old: stale."""


@contextmanager
def _socket_timeout_kept(connection: Redis) -> Iterator[None]:
    """RQ's Worker() raises its connection pool's socket timeout to the dequeue timeout
    (415 s), which would let a stalled Redis hang a console poll: put the caller's back."""
    kwargs = connection.connection_pool.connection_kwargs
    had, timeout = "socket_timeout" in kwargs, kwargs.get("socket_timeout")
    try:
        yield
    finally:
        if had:
            kwargs["socket_timeout"] = timeout
        else:
            kwargs.pop("socket_timeout", None)


def registered_workers(connection: Redis) -> list[Worker]:
    """RQ's workers listening on a whisperops queue, each once."""
    found: dict[str, Worker] = {}
    with _socket_timeout_kept(connection):
        for name in QUEUES:
            for worker in Worker.all(queue=Queue(name, connection=connection)):
                found.setdefault(worker.name, worker)
    return list(found.values())


def count_workers(connection: Redis, queues: tuple[str, ...] = QUEUES) -> int:
    """How many workers listen on one of ``queues`` (keys only: nothing is loaded).

    By queue, never RQ's global registry: a shared Redis holds other applications'
    workers too. Only workers whose own key still exists: a killed worker stays in
    the queue's set until a live worker's registry cleanup, and if every worker died
    nothing cleans it (as ``Worker.all``, which ``whisperops workers`` lists, skips it).
    """
    from rq.worker_registration import get_keys

    keys: set[str] = set()
    for name in queues:
        keys |= get_keys(queue=Queue(name, connection=connection))
    if not keys:
        return 0
    pipeline = connection.pipeline(transaction=False)
    for key in keys:
        pipeline.exists(key)
    return sum(bool(found) for found in pipeline.execute())


def is_stale(state: str, busy: bool, heartbeat_age_sec: float | None) -> bool:
    """Whether a heartbeat this old is later than a live worker in this state sends one."""
    if heartbeat_age_sec is None:
        return True
    limit = BUSY_STALE_SEC if busy or state == WorkerStatus.BUSY else IDLE_STALE_SEC
    return heartbeat_age_sec > limit


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    if moment is None:
        return None
    return max(0.0, (as_utc(now) - as_utc(moment)).total_seconds())


def read_workers(connection: Redis, now: datetime) -> list[WorkerInfo]:
    """Every whisperops worker with what it is doing, transcribe workers first, by name.

    Needs a bound database (one query, for all the recordings being worked on).
    """
    infos = []
    for worker in registered_workers(connection):
        job = worker.get_current_job_id()
        parsed = parse_job_id(job) if job else None
        age = _seconds_since(worker.last_heartbeat, now)
        infos.append(
            WorkerInfo(
                name=worker.name,
                hostname=worker.hostname,
                pid=worker.pid,
                queues=worker.queue_names(),
                state=str(worker.get_state()),
                job_id=job,
                recording_id=parsed[0] if parsed else None,
                job_attempt=parsed[1] if parsed else None,
                last_heartbeat=worker.last_heartbeat,
                heartbeat_age_sec=age,
                successful_jobs=worker.successful_job_count,
                failed_jobs=worker.failed_job_count,
                birth_date=worker.birth_date,
                uptime_sec=_seconds_since(worker.birth_date, now),
                stale=is_stale(str(worker.get_state()), job is not None, age),
            )
        )
    infos = _with_recordings(infos, now)
    infos.sort(key=lambda info: (TRANSCRIBE_QUEUE not in info.queues, info.name))
    return infos


def _with_recordings(infos: list[WorkerInfo], now: datetime) -> list[WorkerInfo]:
    """``infos`` with the recordings they are on, read in one query."""
    ids = {info.recording_id for info in infos if info.recording_id is not None}
    rows = (
        {
            row.id: row
            for row in Recording.select(
                Recording.id,
                Recording.file_name,
                Recording.status,
                Recording.attempt,
                Recording.processing_step,
                Recording.progress_ratio,
                Recording.estimated_finish_at,
                Recording.updated_at,
            ).where(Recording.id.in_(sorted(ids)))
        }
        if ids
        else {}
    )
    joined = []
    for info in infos:
        if info.recording_id is None:
            joined.append(info)
            continue
        row = rows.get(info.recording_id)
        if row is None:  # deleted meanwhile: nothing the worker does can land
            joined.append(info.model_copy(update={"moved_on": True}))
            continue
        processing = row.status is Status.PROCESSING
        # Queued with the job's own attempt: the job was dequeued and is about to claim it.
        ended = row.status in (Status.DONE, Status.FAILED)
        update = {
            "file_name": row.file_name,
            "recording_status": row.status,
            "recording_attempt": row.attempt,
            "moved_on": row.attempt != info.job_attempt or ended,
        }
        if processing:  # a finished or failed recording has no step or estimate to show
            update["processing_step"] = row.processing_step
            update["progress"] = live_progress(
                row.progress_ratio, row.estimated_finish_at, row.updated_at, now
            )
        joined.append(info.model_copy(update=update))
    return joined


def estimate(info: WorkerInfo) -> str:
    """The estimated share of the recording's step done, as '40%', or '-'."""
    return "-" if info.progress is None else f"{info.progress:.0%}"


def recording_label(info: WorkerInfo, width: int) -> str:
    """'#12 call.wav' for the recording the worker is on; '-' when idle; else its job id."""
    if info.recording_id is not None:
        return truncate(f"#{info.recording_id} {info.file_name or '(gone)'}", width)
    return truncate(info.job_id, width) if info.job_id else "-"


def queue_depths(connection: Redis) -> dict[str, int]:
    """Jobs waiting in each whisperops queue."""
    return {name: Queue(name, connection=connection).count for name in QUEUES}
