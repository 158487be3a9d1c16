"""`whisperops pause` / `resume` and the console's ``p``: the intake switch and its effects.

Pausing sets the switch (:mod:`whisperops.ops.intake`) and then drains: the jobs
still waiting on the transcribe queue are withdrawn, so nothing new starts
anywhere; running jobs finish. Resuming enqueues at once up to the room
``max_in_flight`` leaves. Both touch Redis best effort, like
:func:`~whisperops.ops.start_now.start`: the switch in the database is what counts
(workers refuse to start a recording while it is paused, and the sweep enqueues
after a resume).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from whisperops.config import Settings
from whisperops.models import Recording, Status
from whisperops.ops.intake import pause, read_intake, resume
from whisperops.ops.start_now import operator_redis

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

T = TypeVar("T")


def pause_intake(settings: Settings, reason: str | None = None) -> str:
    """Pause intake (idempotent) and withdraw the waiting jobs; one sentence on the result.

    Pausing twice keeps who paused first, when and why, and says so.
    """
    before = read_intake()
    intake = before if before.paused else pause(reason)
    said = f"intake {'was already ' if before.paused else ''}{intake.describe()}"
    from whisperops.jobs.enqueue import transcribe_queue, withdraw_waiting

    withdrawn = _with_redis(
        settings, lambda connection: len(withdraw_waiting(transcribe_queue(connection)))
    )
    if isinstance(withdrawn, int):
        said += f"; {_jobs(withdrawn)} withdrawn"
    else:
        said += f"; waiting jobs not withdrawn ({withdrawn}): workers leave them queued"
    processing = Recording.select().where(Recording.status == Status.PROCESSING).count()
    return said + f"; running jobs finish ({processing} processing)"


def resume_intake(settings: Settings) -> str:
    """Resume intake (idempotent) and enqueue up to the room now; one sentence."""
    before = read_intake()
    intake = resume() if before.paused else before
    said = f"intake resumed by {intake.changed_by}" if before.paused else "intake was not paused"
    from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue

    report = _with_redis(
        settings, lambda connection: enqueue_queued(transcribe_queue(connection), settings)
    )
    if isinstance(report, str):
        return said + f"; not enqueued now ({report}): the next sweep enqueues the queued ones"
    if report.paused is not None:  # paused again from elsewhere meanwhile
        return said + f"; {report.describe()}"
    return said + f"; {report.describe()} (max_in_flight {settings.max_in_flight})"


def _with_redis(settings: Settings, use: Callable[[Redis], T]) -> T | str:
    """``use`` on a fail-fast connection; the reason in one line when Redis is away."""
    from whisperops.health.service_errors import redis_error_for

    connection = operator_redis(settings)
    if connection is None:
        return "the embedded Valkey is not running"
    try:
        return use(connection)
    except Exception as exc:
        error = redis_error_for(exc, settings)
        if error is None:
            raise
        log.warning("Intake change: Redis not reached (%s)", error)
        return str(error)
    finally:
        connection.close()


def _jobs(count: int) -> str:
    return "1 waiting job" if count == 1 else f"{count} waiting jobs"
