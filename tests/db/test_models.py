from datetime import datetime

from peewee import Database

from whisperops.models import Recording, Status, StepOutcome, StepRun, Transcript, TranscriptSegment
from whisperops.ops import show_recording


def _recording(**fields) -> Recording:
    defaults = {
        "file_path": "/in/a.wav",
        "file_name": "a.wav",
        "sha256": "c" * 64,
        "size_bytes": 10,
    }
    return Recording.create(**{**defaults, **fields})


def test_recording_step_fields_persist_and_reload(migrated_db: Database) -> None:
    started = datetime(2026, 11, 30, 10, 15, 30, 123456)
    recording = _recording(status=Status.PROCESSING, processing_segments_count=45)
    recording.processing_step = "transcribe"
    recording.processing_step_started_at = started
    recording.save()

    reloaded = Recording.get_by_id(recording.id)
    assert reloaded.status is Status.PROCESSING
    assert reloaded.processing_step == "transcribe"
    assert reloaded.processing_step_started_at == started
    assert reloaded.processing_segments_count == 45


def test_detail_includes_history_and_transcript(migrated_db: Database, settings) -> None:
    recording = _recording(status=Status.DONE)
    t0 = datetime(2026, 11, 30, 10, 0, 0)
    StepRun.create(
        recording=recording,
        attempt=1,
        step="transcribe",
        started_at=t0,
        finished_at=datetime(2026, 11, 30, 10, 2, 30),
        outcome=StepOutcome.OK,
    )
    transcript = Transcript.create(
        recording=recording,
        text="hello there",
        language="en",
        language_probability=0.97,
        model_name="tiny.en",
    )
    TranscriptSegment.create(
        transcript=transcript,
        position=1,
        start_sec=1.0,
        end_sec=2.0,
        text="there",
        speaker="SPEAKER_01",
    )
    TranscriptSegment.create(
        transcript=transcript,
        position=0,
        start_sec=0.0,
        end_sec=1.0,
        text="hello",
        speaker="SPEAKER_00",
    )

    detail = show_recording(recording.id, settings)

    assert [(s.step, s.outcome, s.duration_sec) for s in detail.steps] == [
        ("transcribe", StepOutcome.OK, 150.0)
    ]
    assert detail.transcript is not None
    assert [s.text for s in detail.transcript.segments] == ["hello", "there"]
    assert detail.transcript.segments[0].speaker == "SPEAKER_00"


def test_deleting_recording_cascades(migrated_db: Database) -> None:
    recording = _recording()
    transcript = Transcript.create(recording=recording, text="x", model_name="m")
    TranscriptSegment.create(transcript=transcript, position=0, start_sec=0, end_sec=1, text="x")
    StepRun.create(
        recording=recording, attempt=1, step="parse_metadata", started_at=datetime(2026, 1, 1)
    )
    recording.delete_instance()
    assert Transcript.select().count() == 0
    assert TranscriptSegment.select().count() == 0
    assert StepRun.select().count() == 0
