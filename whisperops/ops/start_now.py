"""Starting recordings at once: what an operator's requeue or re-diarize does next.

Without this, a recording put back in the queue waits for the next sweep (up to
an interval). Best effort: when Redis cannot be reached the recording stays
QUEUED and the next sweep enqueues it, which is what the operator is told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from whisperops.config import Settings
from whisperops.models import Recording
from whisperops.ops.intake import read_intake

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger(__name__)

# An operator is waiting for the answer: a down Redis is reported, not waited for.
CONNECT_TIMEOUT_SEC = 3.0


def start(recordings: Sequence[Recording], settings: Settings) -> str:
    """Enqueue queued recordings at their current attempt now; one sentence on the result.

    At most the room ``max_in_flight`` leaves (and always one: the recording an
    operator just requeued starts); the sweep enqueues the rest as room frees.
    """
    if not recordings:
        return "nothing to start"
    intake = read_intake()
    if intake.paused:
        return (
            f"not started: intake {intake.describe()}; {_count(recordings)} "
            f"{'stays' if len(recordings) == 1 else 'stay'} queued until `whisperops resume`"
        )
    from whisperops.health.service_errors import redis_error_for
    from whisperops.jobs.enqueue import enqueue_attempt, room_in_flight, transcribe_queue

    connection = operator_redis(settings)
    if connection is None:
        return f"the embedded Valkey is not running: the next sweep enqueues {_count(recordings)}"
    queue = transcribe_queue(connection)
    started = []
    try:
        now = recordings[: max(1, room_in_flight(queue, settings))]
        for recording in now:
            started.append(enqueue_attempt(queue, recording, settings))
    except Exception as exc:
        error = redis_error_for(exc, settings)
        if error is None:
            raise
        log.warning("Could not enqueue at once (%s); the next sweep will", error)
        return (
            f"not started ({error}): the next sweep enqueues {_count(recordings[len(started) :])}"
        )
    finally:
        connection.close()
    said = (
        f"started as job {started[0].id}" if len(started) == 1 else f"started {len(started)} jobs"
    )
    if len(started) < len(recordings):
        said += (
            f"; the sweep enqueues the other {len(recordings) - len(started)} as room frees "
            f"(max_in_flight {settings.max_in_flight})"
        )
    return said


def operator_redis(settings: Settings) -> Redis | None:
    """A connection that fails fast (an operator waits); None when the embedded
    Valkey is not running (nothing is started for an operator's command)."""
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from whisperops.redis_server import known_redis_url

    url = known_redis_url(settings)
    if url is None:
        return None
    return Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_SEC,
        socket_timeout=CONNECT_TIMEOUT_SEC,
        retry=Retry(NoBackoff(), 0),
    )


def _count(recordings: Sequence[Recording]) -> str:
    return "it" if len(recordings) == 1 else f"these {len(recordings)}"
