"""Peewee models: the database row is the truth about a recording."""

from __future__ import annotations

import json
import math
from datetime import datetime
from enum import Enum
from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    DoubleField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from whisperops.clock import utcnow
from whisperops.db import BaseModel


class Status(str, Enum):
    """Lifecycle of a recording; values are stored as-is."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class StepOutcome(str, Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class Step(str, Enum):
    """The pipeline's steps, in the order a job runs them.

    The values are part of the log and error formats and are stored as-is in
    ``recordings.processing_step`` and ``step_history.step``.
    """

    PARSE_METADATA = "parse_metadata"
    EXTRACT_METADATA = "extract_metadata"
    TRANSCRIBE = "transcribe"
    DIARIZATION = "diarization"
    ANALYTICS = "analytics"
    STORE_RESULTS = "store_results"


class EnumField(CharField):
    """Stores a str Enum's value and reads it back as the Enum."""

    def __init__(self, enum: type[Enum], **kwargs: Any) -> None:
        self.enum = enum
        kwargs.setdefault("max_length", 16)
        super().__init__(**kwargs)

    def db_value(self, value: Any) -> Any:
        return None if value is None else self.enum(value).value

    def python_value(self, value: Any) -> Any:
        return None if value is None else self.enum(value)


class Recording(BaseModel):
    id = AutoField()
    file_path = TextField(unique=True)
    file_name = TextField()
    sha256 = CharField(max_length=64, unique=True)
    size_bytes = BigIntegerField()
    status = EnumField(Status, default=Status.QUEUED)
    processing_step = CharField(max_length=32, null=True)
    processing_step_started_at = DateTimeField(null=True)
    processing_segments_count = IntegerField(null=True)
    retry_count = IntegerField(default=0)
    error_message = TextField(null=True)
    # Fencing token: bumped at every (re)enqueue; a worker writes only while the
    # row's attempt still equals the one it was started with.
    attempt = IntegerField(default=0)
    duration_sec = FloatField(null=True)
    sample_rate = IntegerField(null=True)
    channels = IntegerField(null=True)
    codec = CharField(max_length=64, null=True)
    container_format = CharField(max_length=64, null=True)
    bit_rate = BigIntegerField(null=True)
    metadata_json = TextField(null=True)
    parsed_fields_json = TextField(null=True)
    # Estimated fraction of the transcribe step done, and when it should finish;
    # written by the worker (and its heartbeat) for the console and exporter.
    progress_ratio = FloatField(null=True)
    estimated_finish_at = DateTimeField(null=True)
    analytics_json = TextField(null=True)
    # Diarization still to do: the recording was longer than the maximum, the
    # backend failed, or no backend could run (mono audio, no pyannote model).
    diarization_pending = BooleanField(default=False, index=True)
    # Where a queued recording's next attempt starts: None for the first step,
    # 'diarization' to re-diarize over the kept transcript.
    resume_from_step = CharField(max_length=32, null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    processing_started_at = DateTimeField(null=True)
    processed_at = DateTimeField(null=True)

    class Meta:
        table_name = "recordings"
        indexes = (
            (("status", "updated_at"), False),
            (("status", "created_at"), False),
            (("status", "processed_at"), False),
            # Covers the backlog's sums of the queued audio (migration 0013).
            (("status", "resume_from_step", "duration_sec", "size_bytes"), False),
        )

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads(self.metadata_json) if self.metadata_json else {}

    @property
    def parsed_fields(self) -> dict[str, Any]:
        return json.loads(self.parsed_fields_json) if self.parsed_fields_json else {}

    @property
    def analytics(self) -> dict[str, Any]:
        return json.loads(self.analytics_json) if self.analytics_json else {}


class Transcript(BaseModel):
    id = AutoField()
    recording = ForeignKeyField(Recording, backref="transcripts", unique=True, on_delete="CASCADE")
    text = TextField()
    language = CharField(max_length=16, null=True)
    language_probability = FloatField(null=True)
    model_name = TextField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "transcripts"


class TranscriptSegment(BaseModel):
    id = AutoField()
    transcript = ForeignKeyField(Transcript, backref="segments", on_delete="CASCADE")
    position = IntegerField()
    start_sec = FloatField()
    end_sec = FloatField()
    text = TextField()
    speaker = CharField(max_length=64, null=True)
    # [[start, end, word], ...] from word timestamps, kept so a re-diarization can
    # split segments at speaker changes without transcribing again.
    words_json = TextField(null=True)

    class Meta:
        table_name = "transcript_segments"
        indexes = ((("transcript", "position"), True),)


class StepRun(BaseModel):
    """One step of one attempt: where time goes and where failures happen.

    Closed through whisperops.ops.step_tally, which counts it in ``StepTally`` in
    the same transaction; a row written already finished is not counted.
    """

    id = AutoField()
    recording = ForeignKeyField(Recording, backref="step_runs", on_delete="CASCADE")
    attempt = IntegerField()
    step = CharField(max_length=32)
    started_at = DateTimeField()
    finished_at = DateTimeField(null=True)
    outcome = EnumField(StepOutcome, null=True)
    detail = TextField(null=True)
    # Written with finished_at (see step_closed) so the stats screen sums and ranks
    # durations in one GROUP BY instead of sorting every row.
    duration_sec = FloatField(null=True)
    duration_bucket = SmallIntegerField(null=True)

    class Meta:
        table_name = "step_history"
        indexes = (
            (("recording", "attempt"), False),
            (("finished_at",), False),
            (("step", "duration_bucket", "duration_sec"), False),
        )

    def save(self, *args: Any, **kwargs: Any) -> Any:
        if self.finished_at is not None and self.duration_sec is None:
            self.duration_sec = step_closed(self.started_at, self.finished_at)["duration_sec"]
            self.duration_bucket = duration_bucket(self.duration_sec)
        return super().save(*args, **kwargs)


DURATION_BUCKET_BASE = 1.1
"""Each duration bucket is 10% wider than the one before: a bucket's middle is within 5%."""
DURATION_BUCKET_FLOOR = 0.001
"""Durations under a millisecond share bucket 0."""


def duration_bucket(seconds: float | None) -> int | None:
    """The log-scale histogram bucket of a step's duration (see stats.bucket_seconds)."""
    if seconds is None:
        return None
    if seconds < DURATION_BUCKET_FLOOR:
        return 0
    return math.floor(math.log(seconds / DURATION_BUCKET_FLOOR, DURATION_BUCKET_BASE)) + 1


def step_closed(started_at: datetime, finished_at: datetime) -> dict[str, Any]:
    """The columns written when a step run ends: finished_at, duration and its bucket."""
    seconds = max(0.0, (finished_at - started_at).total_seconds())
    return {
        "finished_at": finished_at,
        "duration_sec": seconds,
        "duration_bucket": duration_bucket(seconds),
    }


def no_progress() -> dict[str, None]:
    """The column values of a recording that is not in a step: set together, always.

    Every path that takes a recording out of processing (done, failed, requeued,
    stuck, claimed afresh) clears the same five, so no reader sees a stale step,
    segment count or estimate.
    """
    return {
        "processing_step": None,
        "processing_step_started_at": None,
        "processing_segments_count": None,
        "progress_ratio": None,
        "estimated_finish_at": None,
    }


class StepTally(BaseModel):
    """Cumulative step runs per step and duration bucket, counted as each run closes.

    One row per (step, ``le``): ``le`` is the Prometheus bucket the run's duration
    falls in (the smallest bound of whisperops.ops.step_tally.DURATION_BUCKETS at or
    above it, not cumulative). The exporter serves these rows as they are, so a run
    is counted once, in the transaction that closes it (see whisperops.ops.step_tally).
    """

    id = AutoField()
    step = CharField(max_length=32)
    le = CharField(max_length=16)
    runs = BigIntegerField(default=0)
    seconds = DoubleField(default=0.0)  # a sum that grows: 8 bytes on PostgreSQL too
    failures = BigIntegerField(default=0)

    class Meta:
        table_name = "step_tally"
        indexes = ((("step", "le"), True),)


class IntakeControl(BaseModel):
    """Whether new work is enqueued: one row (id 1), read by every host's enqueuers.

    Paused, nothing is put on the transcribe queue (the sweep, the watcher, an
    operator's requeue); running jobs finish and the watcher still ingests.
    """

    id = AutoField()
    paused = BooleanField(default=False)
    changed_at = DateTimeField(null=True)
    changed_by = TextField(null=True)
    reason = TextField(null=True)

    class Meta:
        table_name = "intake_control"


ALL_MODELS = (Recording, Transcript, TranscriptSegment, StepRun, StepTally, IntakeControl)
