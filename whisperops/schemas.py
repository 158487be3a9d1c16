"""Read interface: the shapes the CLI's JSON output and the console share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from whisperops.clock import as_utc
from whisperops.models import (
    Recording,
    Status,
    StepOutcome,
    StepRun,
    Transcript,
    TranscriptSegment,
)

# The DB stores naive UTC; make that explicit in everything we hand out.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class RecordingListItem(BaseModel):
    """One row of the recordings list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    file_name: str
    status: Status
    processing_step: str | None = None
    processing_step_started_at: UtcDatetime | None = None
    processing_segments_count: int | None = None
    progress_ratio: float | None = None
    estimated_finish_at: UtcDatetime | None = None
    retry_count: int = 0
    attempt: int = 0
    error_message: str | None = None
    duration_sec: float | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    processed_at: UtcDatetime | None = None


class StepRecord(BaseModel):
    """One step of one attempt, from the step history."""

    model_config = ConfigDict(from_attributes=True)

    attempt: int
    step: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    duration_sec: float | None = None
    outcome: StepOutcome | None = None
    detail: str | None = None


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start_sec: float
    end_sec: float
    text: str
    speaker: str | None = None


class TranscriptOut(BaseModel):
    text: str
    language: str | None = None
    language_probability: float | None = None
    model_name: str
    created_at: UtcDatetime
    segments: list[SegmentOut] = []


class RecordingDetail(RecordingListItem):
    """Everything known about one recording."""

    file_path: str
    sha256: str
    size_bytes: int
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    container_format: str | None = None
    bit_rate: int | None = None
    metadata: dict[str, Any] = {}
    parsed_fields: dict[str, Any] = {}
    analytics: dict[str, Any] = {}
    diarization_pending: bool = False
    resume_from_step: str | None = None
    processing_started_at: UtcDatetime | None = None
    steps: list[StepRecord] = []
    transcript: TranscriptOut | None = None
    output_files: list[str] = []


class WorkerInfo(BaseModel):
    """One whisperops worker from RQ's registry, with the recording it is on (if any).

    ``stale``: its heartbeat is older than its state allows (see
    whisperops.jobs.workers); ``moved_on``: its job's attempt is no longer the
    recording's (requeued, failed or finished meanwhile): what it writes is fenced off.
    """

    name: str
    hostname: str | None = None
    pid: int | None = None
    queues: list[str] = []
    state: str
    job_id: str | None = None
    recording_id: int | None = None
    job_attempt: int | None = None
    file_name: str | None = None
    recording_status: Status | None = None
    recording_attempt: int | None = None
    processing_step: str | None = None
    progress: float | None = None
    last_heartbeat: UtcDatetime | None = None
    heartbeat_age_sec: float | None = None
    successful_jobs: int = 0
    failed_jobs: int = 0
    birth_date: UtcDatetime | None = None
    uptime_sec: float | None = None
    stale: bool = False
    moved_on: bool = False

    @property
    def flags(self) -> list[str]:
        """Why the worker is flagged, in words; empty when it is healthy."""
        reasons = ((self.stale, "stale heartbeat"), (self.moved_on, "attempt moved on"))
        return [reason for flagged, reason in reasons if flagged]


def recording_detail(recording: Recording, output_files: list[str]) -> RecordingDetail:
    """Build the detail view of ``recording`` with its history and transcript."""
    steps = StepRun.select().where(StepRun.recording == recording).order_by(StepRun.id)
    transcript = Transcript.get_or_none(Transcript.recording == recording)
    transcript_out = None
    if transcript is not None:
        segments = transcript.segments.order_by(TranscriptSegment.position)
        transcript_out = TranscriptOut(
            text=transcript.text,
            language=transcript.language,
            language_probability=transcript.language_probability,
            model_name=transcript.model_name,
            created_at=transcript.created_at,
            segments=[SegmentOut.model_validate(segment) for segment in segments],
        )
    return RecordingDetail.model_validate(recording).model_copy(
        update={
            "steps": [StepRecord.model_validate(step) for step in steps],
            "transcript": transcript_out,
            "output_files": output_files,
        }
    )
