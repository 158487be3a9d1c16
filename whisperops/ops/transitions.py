"""Every change of a recording's status, around one guarded update.

The attempt is the fencing token: each transition is one ``UPDATE … WHERE id = ?
AND attempt = ?`` (plus the status it expects), so whoever moved the recording on
meanwhile — a worker, the sweep, another operator — wins, and the loser learns it
changed nothing. The sweep decides which rows are stuck, the worker's fence
(:mod:`whisperops.ops.attempt`), the console and the CLI call these; none of them
writes ``recordings`` itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from peewee import Expression

from whisperops.clock import db_now
from whisperops.db import database_proxy
from whisperops.errors import InvalidTransitionError, WhisperopsError
from whisperops.models import (
    Recording,
    Status,
    Step,
    StepOutcome,
    no_progress,
)
from whisperops.ops.queries import get_recording
from whisperops.ops.step_tally import close_attempt_runs

log = logging.getLogger(__name__)


def guarded_update(
    recording_id: int,
    attempt: int,
    changes: dict[str, Any],
    statuses: Iterable[Status] = (),
    also: Expression | None = None,
) -> bool:
    """Apply ``changes`` if the recording is still at ``attempt`` (and in ``statuses``).

    ``also`` narrows the guard further (the sweep's "still not updated since").
    True when the row changed; False when someone moved it on first.
    """
    where = (Recording.id == recording_id) & (Recording.attempt == attempt)
    statuses = [status.value for status in statuses]
    if statuses:
        where &= Recording.status.in_(statuses)
    if also is not None:
        where &= also
    return Recording.update(**changes).where(where).execute() == 1


class MovedOnError(WhisperopsError):
    """The recording changed since it was read: someone else moved it on first."""


class RefusedError(InvalidTransitionError):
    """The transition does not apply to the recording as it is; ``reason`` says why, briefly."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _apply(recording: Recording, changes: dict[str, Any]) -> Recording:
    """An operator's guarded update: raise if the recording changed since it was read."""
    if not guarded_update(recording.id, recording.attempt, changes, [recording.status]):
        raise MovedOnError(
            f"recording #{recording.id} changed while this was applied; look again and retry"
        )
    return get_recording(recording.id)


def step_context(recording: Recording) -> str:
    """' in step transcribe (12 segments)' for a processing recording, else ''."""
    if recording.status != Status.PROCESSING or not recording.processing_step:
        return ""
    segments = recording.processing_segments_count or 0
    return f" in step {recording.processing_step} ({segments} segments)"


def _queued_afresh(recording: Recording, now: datetime | None, **changes: Any) -> dict[str, Any]:
    """The changes that queue a recording for its next attempt.

    The attempt is bumped here, once: a job still holding the old attempt can no
    longer write, and the job enqueued for this recording runs with the new one.
    retry_count restarts at 0 because an operator decided to try again.
    """
    return {
        "status": Status.QUEUED,
        "attempt": recording.attempt + 1,
        "retry_count": 0,
        "error_message": None,
        **no_progress(),
        "updated_at": now or db_now(),
        **changes,
    }


def requeue(recording_id: int, now: datetime | None = None) -> Recording:
    """Put a recording back in the queue to run every step again."""
    return requeue_read(get_recording(recording_id), now)


def requeue_read(recording: Recording, now: datetime | None = None) -> Recording:
    """Requeue ``recording`` as it was read: fenced by its attempt and status then.

    The one requeue transition, for a single recording and for a marked set.
    Raises RefusedError when it is already queued, MovedOnError when it changed.
    """
    if recording.status == Status.QUEUED:
        raise RefusedError(f"recording #{recording.id} is already queued", "already queued")
    result = _apply(recording, _queued_afresh(recording, now, resume_from_step=None))
    log.info(
        "Requeued recording %s file_name=%r as attempt %s (was %s%s)",
        recording.id,
        recording.file_name,
        result.attempt,
        recording.status.value,
        step_context(recording),
    )
    return result


def fail(recording_id: int, reason: str, now: datetime | None = None) -> Recording:
    """Mark a queued or processing recording FAILED with the operator's reason."""
    reason = required_reason(reason)
    return fail_read(get_recording(recording_id), reason, now)


def required_reason(reason: str) -> str:
    """The operator's reason, stripped; refused when there is none."""
    reason = reason.strip()
    if not reason:
        raise InvalidTransitionError("a reason is required to fail a recording")
    return reason


def fail_read(recording: Recording, reason: str, now: datetime | None = None) -> Recording:
    """Fail ``recording`` as it was read (fenced by its attempt and status then).

    The one fail transition, for a single recording and for a marked set. Raises
    RefusedError when it is already done or failed, MovedOnError when it changed.
    """
    reason = required_reason(reason)
    if recording.status in (Status.DONE, Status.FAILED):
        raise RefusedError(
            f"recording #{recording.id} is already {recording.status.value}; "
            "only queued or processing recordings can be failed",
            f"already {recording.status.value}",
        )
    message = f"Failed by operator{step_context(recording)}: {reason}"
    result = _apply(
        recording,
        {
            "status": Status.FAILED,
            # Fence off a job still running it: its next write matches nothing.
            "attempt": recording.attempt + 1,
            "error_message": message,
            **no_progress(),
            "updated_at": now or db_now(),
        },
    )
    log.info(
        "Failed recording %s file_name=%r by operator: %s",
        recording.id,
        recording.file_name,
        message,
    )
    return result


REDIARIZE_FROM = Step.DIARIZATION


def rediarize(recording_id: int, now: datetime | None = None) -> Recording:
    """Queue a done recording for diarization, analytics and store_results again.

    The transcript is kept and not recomputed; the worker that picks the recording
    up starts at the diarization step with today's diarization settings.
    """
    recording = get_recording(recording_id)
    if recording.status != Status.DONE:
        raise InvalidTransitionError(
            f"recording #{recording_id} is {recording.status.value}; only done recordings "
            "(which have a transcript) can be re-diarized"
        )
    result = _apply(
        recording,
        _queued_afresh(
            recording,
            now,
            resume_from_step=REDIARIZE_FROM.value,
            # Kept: a failed diarization's message stays visible until it runs again.
            error_message=recording.error_message,
        ),
    )
    log.info(
        "Queued recording %s file_name=%r for re-diarization as attempt %s",
        recording.id,
        recording.file_name,
        result.attempt,
    )
    return result


def rediarize_pending(now: datetime | None = None) -> list[Recording]:
    """Queue every done recording flagged diarization_pending; returns those queued."""
    # Read in full first: rediarize() updates these rows, and iterating a live cursor
    # over rows being updated is undefined (SQLite may skip or repeat them).
    pending = list(
        Recording.select(Recording.id).where(
            Recording.diarization_pending & (Recording.status == Status.DONE.value)
        )
    )
    queued = []
    for row in pending:
        try:
            queued.append(rediarize(row.id, now))
        except WhisperopsError:  # moved on since the query: not ours to queue
            continue
    log.info("Queued %d recordings pending diarization for re-diarization", len(queued))
    return queued


def take_next_attempt(recording: Recording) -> int | None:
    """Claim the next attempt of a queued recording for a job about to be enqueued.

    Two enqueuers racing on the same row cannot both win; the loser gets None.
    A job left by an earlier attempt is fenced off by the bump.
    """
    attempt = recording.attempt + 1
    changes = {"attempt": attempt, "updated_at": db_now()}
    won = guarded_update(recording.id, recording.attempt, changes, [Status.QUEUED])
    return attempt if won else None


def recover_stuck(recording: Recording, now: datetime, cutoff: datetime, give_up: bool) -> bool:
    """Requeue (or, out of retries, fail) a processing recording whose worker went silent.

    Guarded by "not updated since ``cutoff``" too: a worker whose heartbeat landed
    since the sweep read the row keeps it. The lost worker never closed its step, so
    the history says what became of it. False when the row had moved on.
    """
    age_sec = (now - recording.updated_at).total_seconds()
    changes = {
        "status": Status.FAILED if give_up else Status.QUEUED,
        "error_message": stuck_error_message(recording, age_sec) if give_up else None,
        "retry_count": recording.retry_count + 1,
        # Fence off the stuck worker: should it wake up, its writes match nothing.
        "attempt": recording.attempt + 1,
        **no_progress(),
        "updated_at": now,
    }
    with database_proxy.atomic():
        if not guarded_update(
            recording.id,
            recording.attempt,
            changes,
            [Status.PROCESSING],
            also=Recording.updated_at < cutoff,
        ):
            return False
        # Closed and counted for the exporter in this transaction. The open run began
        # when the recording entered its step (begin_step).
        close_attempt_runs(
            recording.id,
            recording.attempt,
            recording.processing_step_started_at or now,
            now,
            StepOutcome.FAILED,
            f"abandoned: no update for {int(age_sec)}s (worker lost); "
            f"{'failed' if give_up else 'requeued'} by the sweep",
        )
    return True


def stuck_error_message(recording: Recording, age_sec: float) -> str:
    return (
        f"Stuck in step {recording.processing_step or 'unknown'} "
        f"({recording.processing_segments_count or 0} segments); "
        f"last update {int(age_sec // 60)}m ago (cleanup)"
    )
