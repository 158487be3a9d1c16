"""Starting recordings at once: what an operator's requeue or re-diarize does next.

Without this, a recording put back in the queue waits for the next sweep (up to
an interval). Best effort: when Redis cannot be reached the recording stays
QUEUED and the next sweep enqueues it, which is what the operator is told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from whisperops.config import Settings
from whisperops.models import Recording

log = logging.getLogger(__name__)

# An operator is waiting for the answer: a down Redis is reported, not waited for.
CONNECT_TIMEOUT_SEC = 3.0


def start(recordings: Sequence[Recording], settings: Settings) -> str:
    """Enqueue queued recordings at their current attempt now; one sentence on the result."""
    if not recordings:
        return "nothing to start"
    from redis import Redis

    from whisperops.health.service_errors import redis_error_for
    from whisperops.jobs.enqueue import enqueue_attempt, transcribe_queue
    from whisperops.redis_server import known_redis_url

    url = known_redis_url(settings)
    if url is None:
        return "the embedded Valkey is not running: the next sweep enqueues it"
    connection = Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SEC, socket_timeout=CONNECT_TIMEOUT_SEC
    )
    queue = transcribe_queue(connection)
    started = []
    try:
        for recording in recordings:
            started.append(enqueue_attempt(queue, recording, settings))
    except Exception as exc:
        error = redis_error_for(exc, settings)
        if error is None:
            raise
        log.warning("Could not enqueue at once (%s); the next sweep will", error)
        left = len(recordings) - len(started)
        return f"not started ({error}): the next sweep enqueues {_count(left)}"
    finally:
        connection.close()
    if len(started) == 1:
        return f"started as job {started[0].id}"
    return f"started {len(started)} jobs"


def _count(number: int) -> str:
    return "it" if number == 1 else f"these {number}"
