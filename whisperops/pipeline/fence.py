"""Fenced writes: a job writes only while the recording's attempt is still its own."""

from __future__ import annotations

from typing import Any

from whisperops.db import database_proxy, utcnow
from whisperops.models import Recording, Status, StepOutcome, StepRun, no_progress


class Fenced(Exception):
    """The recording moved on (requeued, failed, or taken by a newer attempt)."""


class FencedRecording:
    """Every write is one ``UPDATE ... WHERE id = ? AND attempt = ?`` on a processing row."""

    def __init__(self, recording_id: int, attempt: int) -> None:
        self.recording_id = recording_id
        self.attempt = attempt

    def _where(self):
        return (
            (Recording.id == self.recording_id)
            & (Recording.attempt == self.attempt)
            & (Recording.status == Status.PROCESSING.value)
        )

    def claim(self) -> Recording | None:
        """Move the queued row to PROCESSING for this attempt; None if it is not ours."""
        now = utcnow()
        claimed = (
            Recording.update(
                status=Status.PROCESSING,
                processing_started_at=now,
                updated_at=now,
                error_message=None,
                **no_progress(),
            )
            .where(
                (Recording.id == self.recording_id)
                & (Recording.attempt == self.attempt)
                & (Recording.status.in_([Status.QUEUED.value, Status.PROCESSING.value]))
            )
            .execute()
        )
        return Recording.get_by_id(self.recording_id) if claimed == 1 else None

    def update(self, **changes: Any) -> None:
        changes.setdefault("updated_at", utcnow())
        if Recording.update(**changes).where(self._where()).execute() != 1:
            raise Fenced(f"recording {self.recording_id} attempt {self.attempt} was superseded")

    def begin_step(self, step: str) -> StepRun:
        now = utcnow()
        with database_proxy.atomic():
            self.update(
                processing_step=step,
                processing_step_started_at=now,
                updated_at=now,
                progress_ratio=None,
                estimated_finish_at=None,
            )
            return StepRun.create(
                recording=self.recording_id, attempt=self.attempt, step=step, started_at=now
            )

    def end_step(self, run: StepRun, outcome: StepOutcome, detail: str | None = None) -> None:
        # History rows are this attempt's own; they are closed even when fenced so
        # the timeline shows where the abandoned attempt stopped.
        StepRun.update(finished_at=utcnow(), outcome=outcome, detail=detail).where(
            (StepRun.id == run.id) & StepRun.finished_at.is_null()
        ).execute()
