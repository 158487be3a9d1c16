"""Console fixtures: fixed recordings on SQLite, a frozen clock, a real Redis."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis

from whisperops.config import Settings, load_settings
from whisperops.db import bind_database
from whisperops.migrations import migrate
from whisperops.models import (
    Recording,
    Status,
    StepOutcome,
    StepRun,
    Transcript,
    TranscriptSegment,
)

NOW = datetime(2026, 11, 30, 12, 0, 0)


def frozen_now() -> datetime:
    return NOW


def _recording(file_name: str, status: Status, **fields) -> Recording:
    defaults = {
        "file_path": f"/archive/inbox/{file_name}",
        "file_name": file_name,
        "sha256": hashlib.sha256(file_name.encode()).hexdigest(),
        "size_bytes": 1_234_567,
        "status": status,
        "created_at": NOW - timedelta(hours=2),
        "updated_at": NOW - timedelta(minutes=30),
    }
    return Recording.create(**{**defaults, **fields})


def fill(settings: Settings) -> dict[str, int]:
    """Six recordings covering every status, a running step and a markup-like name."""
    ids = {}
    ids["transcribing"] = _recording(
        "+15551234567_20260102-153000.wav",
        Status.PROCESSING,
        attempt=1,
        processing_step="transcribe",
        processing_step_started_at=NOW - timedelta(minutes=3),
        processing_segments_count=45,
        progress_ratio=0.4,
        estimated_finish_at=NOW + timedelta(minutes=4),
        updated_at=NOW - timedelta(seconds=5),
        duration_sec=1680.0,
    ).id
    ids["diarizing"] = _recording(
        "board meeting 2026-11.mp3",
        Status.PROCESSING,
        attempt=1,
        processing_step="diarization",
        processing_step_started_at=NOW - timedelta(seconds=20),
        updated_at=NOW - timedelta(seconds=2),
    ).id
    ids["queued"] = _recording(
        "interview-anna.m4a", Status.QUEUED, updated_at=NOW - timedelta(minutes=1)
    ).id
    done = _recording(
        "call-0042.wav",
        Status.DONE,
        attempt=1,
        duration_sec=95.5,
        sample_rate=8000,
        channels=2,
        codec="pcm_s16le",
        container_format="wav",
        bit_rate=256000,
        processed_at=NOW - timedelta(minutes=10),
        updated_at=NOW - timedelta(minutes=10),
        parsed_fields_json=json.dumps({"phone": "0042"}),
    )
    ids["done"] = done.id
    for offset, (step, outcome) in enumerate(
        [
            ("parse_metadata", StepOutcome.OK),
            ("extract_metadata", StepOutcome.OK),
            ("transcribe", StepOutcome.OK),
            ("diarization", StepOutcome.SKIPPED),
            ("analytics", StepOutcome.OK),
            ("store_results", StepOutcome.OK),
        ]
    ):
        started = NOW - timedelta(minutes=12) + timedelta(seconds=10 * offset)
        StepRun.create(
            recording=done,
            attempt=1,
            step=step,
            started_at=started,
            finished_at=started + timedelta(seconds=9),
            outcome=outcome,
            detail="diarization backend is 'none'" if outcome is StepOutcome.SKIPPED else None,
        )
    transcript = Transcript.create(
        recording=done,
        text="Hello. How can I help?",
        language="en",
        language_probability=0.99,
        model_name="tiny.en (bundled)",
        created_at=NOW - timedelta(minutes=10),
    )
    TranscriptSegment.create(
        transcript=transcript,
        position=0,
        start_sec=0.0,
        end_sec=1.2,
        text="Hello.",
        speaker="agent",
    )
    TranscriptSegment.create(
        transcript=transcript,
        position=1,
        start_sec=1.4,
        end_sec=3.0,
        text="How can I help?",
        speaker="customer",
    )
    ids["markup"] = _recording(
        "[bold]weird[/bold] name.wav", Status.QUEUED, updated_at=NOW - timedelta(minutes=40)
    ).id
    ids["failed"] = _recording(
        "truncated.mp3",
        Status.FAILED,
        attempt=1,
        updated_at=NOW - timedelta(minutes=50),
        error_message="Step extract_metadata failed: truncated.mp3 is not readable audio: "
        "Invalid data found when processing input",
    ).id
    return ids


@pytest.fixture
def console_settings(tmp_path: Path, redis_url: str, redis: Redis) -> Settings:
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'console.db'}",
            "REDIS_URL": redis_url,
        }
    )
    migrate(bind_database(settings.database_url.get_secret_value()), log=lambda _line: None)
    return settings


@pytest.fixture
def recordings(console_settings: Settings) -> dict[str, int]:
    return fill(console_settings)
