"""Real RQ workers registered in Redis the way a running worker registers itself.

The worker objects go through RQ's own calls (register_birth, prepare_execution,
the job counters); only their birth and heartbeat times are then set, since a
test cannot wait minutes for a heartbeat to go stale.
"""

from __future__ import annotations

from datetime import datetime

from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.utils import utcformat
from rq.worker import WorkerStatus

from whisperops.config import Settings
from whisperops.jobs.enqueue import enqueue_attempt
from whisperops.jobs.names import TRANSCRIBE_QUEUE
from whisperops.models import Recording


def running_job(redis: Redis, recording: Recording, settings: Settings, attempt: int) -> Job:
    """The real job of ``recording``'s ``attempt``, enqueued and dequeued as a worker would."""
    queue = Queue(TRANSCRIBE_QUEUE, connection=redis)
    enqueue_attempt(queue, recording, settings, attempt)
    dequeued = Queue.dequeue_any([queue], None, connection=redis)
    assert dequeued is not None
    return dequeued[0]


def register_worker(
    redis: Redis,
    name: str,
    queue: str,
    host: str,
    pid: int,
    born: datetime,
    heartbeat: datetime,
    job: Job | None = None,
    done: int = 0,
    failed: int = 0,
) -> Worker:
    """A worker as RQ registers it, busy on ``job`` if given, else idle."""
    worker = Worker([queue], name=name, connection=redis)
    worker.hostname, worker.pid = host, pid  # serialized by register_birth
    worker.register_birth()
    if job is not None:
        worker.prepare_execution(job)  # RQ's own bookkeeping: execution + state busy
    else:
        worker.set_state(WorkerStatus.IDLE)
    for _ in range(done):
        worker.increment_successful_job_count()
    for _ in range(failed):
        worker.increment_failed_job_count()
    redis.hset(
        worker.key, mapping={"birth": utcformat(born), "last_heartbeat": utcformat(heartbeat)}
    )
    return worker
