"""The operations module on SQLite and PostgreSQL."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database

from tests.audio import write_tone_wav
from tests.integration.cli_runner import run_cli
from tests.privileges import without_read_override
from whisperops import ops
from whisperops.config import Settings
from whisperops.errors import InvalidTransitionError, NotFoundError, WhisperopsError
from whisperops.models import Recording, Status
from whisperops.ops import transitions


def outcomes(results: list[ops.AddResult]) -> list[tuple[str, str, str]]:
    return [(r.path.name, r.outcome, r.reason) for r in results]


def test_add_folder_takes_audio_and_explains_skips(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    (audio_dir / "notes.txt").write_text("not audio")
    (audio_dir / "copy.WAV").write_bytes((audio_dir / "call one.wav").read_bytes())

    results = ops.add_paths([audio_dir], settings)

    by_name = {r.path.name: r for r in results}
    assert by_name["call one.wav"].outcome == "added"
    assert by_name["call-two.wav"].outcome == "added"
    assert by_name["notes.txt"].outcome == "skipped"
    assert by_name["notes.txt"].reason == "not an audio file extension (.txt)"
    first = by_name["call one.wav"].recording_id
    assert by_name["copy.WAV"].outcome == "skipped"
    assert by_name["copy.WAV"].reason == f"duplicate of #{first} call one.wav (same SHA-256)"

    rows = list(Recording.select().order_by(Recording.id))
    assert [row.file_name for row in rows] == ["call one.wav", "call-two.wav"]
    assert all(row.status is Status.QUEUED for row in rows)
    assert rows[0].file_path == str((audio_dir / "call one.wav").resolve())
    assert rows[0].size_bytes == (audio_dir / "call one.wav").stat().st_size
    assert rows[0].sha256 == ops.sha256_of(audio_dir / "call one.wav")


def test_adding_again_is_skipped_not_duplicated(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    ops.add_paths([audio_dir], settings)
    again = ops.add_paths([audio_dir / "call one.wav"], settings)
    assert again[0].outcome == "skipped"
    assert again[0].reason.startswith("already ingested as #")
    assert Recording.select().count() == 2


def test_missing_path_is_an_error_and_does_not_block_others(
    migrated_db: Database, settings: Settings, audio_dir: Path, tmp_path: Path
) -> None:
    results = ops.add_paths([tmp_path / "gone.wav", audio_dir / "call-two.wav"], settings)
    assert outcomes(results) == [
        ("gone.wav", "error", "no such file or folder"),
        ("call-two.wav", "added", ""),
    ]


def test_unreadable_file_is_an_error(
    migrated_db: Database, settings: Settings, environ: dict[str, str], audio_dir: Path
) -> None:
    """Through `whisperops add`, with read permission enforced even for root: the
    unreadable file is an error, the readable one next to it is still added."""
    target = audio_dir / "call one.wav"
    target.chmod(0)
    try:
        prefix = without_read_override(audio_dir)
        result = run_cli(
            environ, "add", str(target), str(audio_dir / "call-two.wav"), prefix=prefix
        )
    finally:
        target.chmod(0o644)
    assert result.returncode == 1
    assert f"error    {target}: cannot read: Permission denied" in result.stderr
    assert "added    #1" in result.stdout and "call-two.wav" in result.stdout


def test_allowed_dirs_refuse_paths_and_symlinks_outside(
    migrated_db: Database, settings: Settings, audio_dir: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_tone_wav(inbox / "inside.wav", frequency=300)
    (inbox / "escape.wav").symlink_to(audio_dir / "call one.wav")
    restricted = settings.replace(allowed_dirs=(inbox,))

    results = ops.add_paths([inbox, audio_dir / "call-two.wav"], restricted)

    by_name = {r.path.name: r for r in results}
    assert by_name["inside.wav"].outcome == "added"
    assert by_name["escape.wav"].outcome == "skipped"
    assert by_name["escape.wav"].reason.startswith("outside the allowed folders")
    assert by_name["call-two.wav"].outcome == "skipped"
    assert Recording.select().count() == 1


def _add_one(settings: Settings, audio_dir: Path) -> Recording:
    result = ops.add_paths([audio_dir / "call one.wav"], settings)[0]
    return Recording.get_by_id(result.recording_id)


def test_requeue_processing_fences_old_attempt(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    recording = _add_one(settings, audio_dir)
    Recording.update(
        status=Status.PROCESSING,
        attempt=3,
        retry_count=2,
        processing_step="transcribe",
        processing_segments_count=12,
        processing_step_started_at=datetime(2026, 1, 1),
    ).execute()
    now = datetime(2026, 11, 30, 9, 0, 0)

    ops.requeue(recording.id, now=now)

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.QUEUED
    assert row.attempt == 4
    assert row.retry_count == 0
    assert row.processing_step is None
    assert row.processing_step_started_at is None
    assert row.processing_segments_count is None
    assert row.error_message is None
    assert row.updated_at == now


def test_requeue_queued_is_refused(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    recording = _add_one(settings, audio_dir)
    with pytest.raises(InvalidTransitionError, match="already queued"):
        ops.requeue(recording.id)


def test_fail_processing_keeps_step_context_in_message(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    recording = _add_one(settings, audio_dir)
    Recording.update(
        status=Status.PROCESSING, processing_step="diarization", processing_segments_count=45
    ).execute()

    ops.fail(recording.id, "  speaker model missing ")

    row = Recording.get_by_id(recording.id)
    assert row.status is Status.FAILED
    assert row.error_message == (
        "Failed by operator in step diarization (45 segments): speaker model missing"
    )
    assert row.attempt == 1
    assert row.processing_step is None


def test_fail_needs_reason_and_active_recording(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    recording = _add_one(settings, audio_dir)
    with pytest.raises(InvalidTransitionError, match="reason is required"):
        ops.fail(recording.id, "  ")
    ops.fail(recording.id, "bad upload")
    with pytest.raises(InvalidTransitionError, match="already failed"):
        ops.fail(recording.id, "again")
    ops.requeue(recording.id)
    assert Recording.get_by_id(recording.id).status is Status.QUEUED


def test_unknown_id_is_not_found(migrated_db: Database) -> None:
    with pytest.raises(NotFoundError, match="no recording with id 999"):
        ops.requeue(999)


def test_concurrent_change_is_reported_not_overwritten(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    recording = _add_one(settings, audio_dir)
    stale = Recording.get_by_id(recording.id)
    Recording.update(attempt=Recording.attempt + 1).execute()  # e.g. the sweep enqueued it
    changes = {"status": Status.FAILED}
    assert not transitions.guarded_update(stale.id, stale.attempt, changes)
    with pytest.raises(WhisperopsError, match="changed while this was applied"):
        transitions._apply(stale, changes)
    assert Recording.get_by_id(recording.id).status is Status.QUEUED


def test_list_orders_processing_first_and_filters(
    migrated_db: Database, settings: Settings, audio_dir: Path
) -> None:
    write_tone_wav(audio_dir / "third.wav", frequency=880)
    ops.add_paths([audio_dir], settings)
    base = datetime(2026, 11, 30, 8, 0, 0)
    for offset, (name, status) in enumerate(
        [
            ("call one.wav", Status.DONE),
            ("call-two.wav", Status.PROCESSING),
            ("third.wav", Status.FAILED),
        ]
    ):
        Recording.update(status=status, updated_at=base + timedelta(minutes=offset)).where(
            Recording.file_name == name
        ).execute()

    items, total = ops.list_recordings()
    assert total == 3
    assert [i.file_name for i in items] == ["call-two.wav", "third.wav", "call one.wav"]

    items, total = ops.list_recordings(status=Status.DONE)
    assert [i.file_name for i in items] == ["call one.wav"]

    items, _ = ops.list_recordings(search="CALL")
    assert {i.file_name for i in items} == {"call one.wav", "call-two.wav"}

    items, total = ops.list_recordings(limit=1)
    assert len(items) == 1 and total == 3
