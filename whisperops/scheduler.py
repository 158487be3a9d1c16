"""rq-scheduler wiring: the repeating sweep on the maintenance queue."""

from __future__ import annotations

import logging

from redis import Redis
from rq_scheduler import Scheduler

from whisperops.clock import utcnow
from whisperops.config import Settings
from whisperops.health.service_errors import Outage
from whisperops.jobs.names import MAINTENANCE_QUEUE, RUN_SCHEDULED_SWEEP, SWEEP_JOB_ID
from whisperops.redis_server import REDIS_DOWN

log = logging.getLogger(__name__)


# How often the scheduler itself wakes to enqueue due jobs: often enough that the
# sweep starts within a few seconds of its time, never more often than needed.
MAX_POLL_SEC = 5


class LockLineToOutage(logging.Filter):
    """While Redis is down, rq-scheduler takes the lock it could not ask for as held by
    another scheduler and says so at every poll; the outage is logged once instead.

    Matches the text of rq-scheduler 0.14's line in ``Scheduler.run``."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        lock_taken = str(record.msg).startswith("Lock already taken")
        return not (lock_taken and self.outage.down_since is not None)


class SweepScheduler(Scheduler):
    """rq-scheduler that keeps the sweep scheduled through Redis restarts and flushes.

    The schedule lives in Redis: after a restart or flush it is gone and, without
    this, no sweep would ever run again (lost jobs never re-enqueued, stuck
    recordings never recovered). Each poll puts it back if it is missing, and a
    poll that finds Redis down is logged and retried instead of ending the process
    (under honcho that would stop the whole stack).
    """

    def __init__(self, settings: Settings, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.redis_outage = Outage("Scheduler: Redis", log)
        # rq-scheduler's logger is shared: one scheduler per process in production.
        for earlier in [f for f in self.log.filters if isinstance(f, LockLineToOutage)]:
            self.log.removeFilter(earlier)
        self.log.addFilter(LockLineToOutage(self.redis_outage))

    def _unless_redis_down(self, action, fallback):
        try:
            result = action()
        except REDIS_DOWN as exc:
            self.redis_outage.down(exc, f"polling every {self._interval}s")
            return fallback
        self.redis_outage.up()
        return result

    def heartbeat(self):
        return self._unless_redis_down(super().heartbeat, None)

    def acquire_lock(self):
        return self._unless_redis_down(super().acquire_lock, False)

    def remove_lock(self):
        return self._unless_redis_down(super().remove_lock, None)

    def register_death(self):  # also called from its SIGTERM handler
        return self._unless_redis_down(super().register_death, None)

    def enqueue_jobs(self):
        def enqueue():
            if SWEEP_JOB_ID not in self:
                log.warning("The sweep is not scheduled (Redis restarted or flushed?); again")
                register_sweep(self, self.settings)
            return super(SweepScheduler, self).enqueue_jobs()

        return self._unless_redis_down(enqueue, [])


def build_scheduler(settings: Settings, connection: Redis) -> Scheduler:
    poll = max(1, min(MAX_POLL_SEC, settings.sweep_interval_sec))
    return SweepScheduler(
        settings, queue_name=MAINTENANCE_QUEUE, connection=connection, interval=poll
    )


def register_sweep(scheduler: Scheduler, settings: Settings) -> None:
    """(Re)register the repeating sweep under its fixed id.

    A second scheduler, or a restart with a new interval, replaces the entry
    rather than adding one, so there is one sweep per interval.
    """
    if SWEEP_JOB_ID in scheduler:
        scheduler.cancel(SWEEP_JOB_ID)
    scheduler.schedule(
        scheduled_time=utcnow(),
        func=RUN_SCHEDULED_SWEEP,
        interval=settings.sweep_interval_sec,
        repeat=None,
        id=SWEEP_JOB_ID,
        queue_name=MAINTENANCE_QUEUE,
        result_ttl=max(600, settings.sweep_interval_sec * 5),
        description="enqueue_pending_recordings (stuck detection + enqueue)",
    )
    log.info(
        "Sweep scheduled every %ss on queue %s", settings.sweep_interval_sec, MAINTENANCE_QUEUE
    )


def run_scheduler(settings: Settings, connection: Redis, burst: bool = False) -> None:
    scheduler = build_scheduler(settings, connection)
    register_sweep(scheduler, settings)
    scheduler.run(burst=burst)
