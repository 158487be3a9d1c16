"""A job's writes for its own attempt: claim, progress, steps, and how the attempt ends.

Every write is :func:`~whisperops.ops.transitions.guarded_update` on a processing
row at this attempt, so a job that was superseded (requeued, failed, recovered by
the sweep) learns it at its next write and stops.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from whisperops.clock import db_now
from whisperops.db import database_proxy, through_outage
from whisperops.models import (
    Recording,
    Status,
    Step,
    StepOutcome,
    StepRun,
    no_progress,
)
from whisperops.ops.intake import intake_paused, while_running
from whisperops.ops.step_tally import close_step_run
from whisperops.ops.transitions import guarded_update


class Fenced(Exception):
    """The recording moved on (requeued, failed, or taken by a newer attempt)."""


class FencedRecording:
    """One attempt of one recording, as the job running it sees it."""

    def __init__(self, recording_id: int, attempt: int) -> None:
        self.recording_id = recording_id
        self.attempt = attempt

    def claim(self) -> Recording | None:
        """Move the queued row to PROCESSING for this attempt; None if it is not ours."""
        now = db_now()
        changes = {
            "status": Status.PROCESSING,
            "processing_started_at": now,
            "updated_at": now,
            "error_message": None,
            **no_progress(),
        }
        # PROCESSING too: at this attempt, only this attempt's own job can hold it.
        # A queued row is not started while intake is paused (a job enqueued just
        # before the pause, or on a host that had not seen it yet); checked in the
        # same update, so a pause can't slip in between.
        if guarded_update(
            self.recording_id,
            self.attempt,
            changes,
            [Status.QUEUED, Status.PROCESSING],
            also=(Recording.status == Status.PROCESSING) | while_running(),
        ):
            return Recording.get_by_id(self.recording_id)
        return None

    def held_by_pause(self) -> bool:
        """Whether a refused claim was the pause's doing: the row is still QUEUED at
        this attempt and intake is paused (it stays queued; resume enqueues it again)."""
        still_queued = Recording.select().where(
            (Recording.id == self.recording_id)
            & (Recording.attempt == self.attempt)
            & (Recording.status == Status.QUEUED)
        )
        return still_queued.exists() and intake_paused()

    def update(self, **changes: Any) -> None:
        """Write progress or results while the attempt is still this job's.

        A ``timedelta`` value is a moment that far from now, by the database's clock
        (an estimated finish): read in the same retried write as ``updated_at``.
        """

        def write() -> bool:
            now = db_now()
            stamped = {"updated_at": now} | {
                name: now + value if isinstance(value, timedelta) else value
                for name, value in changes.items()
            }
            return guarded_update(self.recording_id, self.attempt, stamped, [Status.PROCESSING])

        # A killed connection or a database restart mid-job: the write waits for it
        # (guarded by the attempt, so repeating it is safe) instead of failing the job.
        if not through_outage(write, f"recording {self.recording_id}"):
            raise Fenced(f"recording {self.recording_id} attempt {self.attempt} was superseded")

    def begin_step(self, step: Step) -> StepRun:
        # The whole transaction is repeated through an outage; cut off, it left nothing.
        return through_outage(lambda: self._begin_step(step), f"recording {self.recording_id}")

    def _begin_step(self, step: Step) -> StepRun:
        now = db_now()
        with database_proxy.atomic():
            self.update(
                processing_step=step.value,
                processing_step_started_at=now,
                updated_at=now,
                progress_ratio=None,
                estimated_finish_at=None,
            )
            return StepRun.create(
                recording=self.recording_id, attempt=self.attempt, step=step.value, started_at=now
            )

    def end_step(self, run: StepRun, outcome: StepOutcome, detail: str | None = None) -> None:
        # History rows are this attempt's own; they are closed even when fenced so
        # the timeline shows where the abandoned attempt stopped.
        # Counted for the exporter in the same transaction; a repeat counts nothing.
        def close() -> None:
            close_step_run(run.id, run.step, run.started_at, db_now(), outcome, detail)

        through_outage(close, f"recording {self.recording_id}")

    def finish(self, error_message: str | None, diarization_pending: bool) -> None:
        """DONE. A failed diarization's message stays visible on a done recording."""
        self.update(
            status=Status.DONE,
            processed_at=db_now(),
            error_message=error_message,
            diarization_pending=diarization_pending,
            resume_from_step=None,
        )

    def fail(self, error_message: str) -> None:
        """FAILED in a step, with the message naming the step."""
        self.update(status=Status.FAILED, error_message=error_message, resume_from_step=None)

    def release(self) -> None:
        """Back to QUEUED without using up a retry: the worker is shutting down.

        The next sweep enqueues it again (this attempt's job ends here, so it is no
        longer live).
        """
        self.update(status=Status.QUEUED, error_message=None)

    def clear_progress(self) -> None:
        """Clear the step and estimate once the job ends, whatever the status now.

        Guarded by the attempt alone: the row is DONE, FAILED or QUEUED by now, and a
        superseded attempt must not touch the newer attempt's progress.
        """
        guarded_update(self.recording_id, self.attempt, no_progress())
