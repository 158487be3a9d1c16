"""Selecting a marked set and acting on it in bulk, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from peewee import Database

from whisperops import ops
from whisperops.errors import InvalidTransitionError
from whisperops.models import Recording, Status
from whisperops.ops.queries import FAILED_STEP_FORMS, Seen

NOW = datetime(2026, 11, 30, 12, 0, 0)


def _recording(name: str, status: Status, **fields) -> int:
    return Recording.create(
        file_path=f"/inbox/{name}",
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=1000,
        status=status,
        attempt=1,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(minutes=5),
        **fields,
    ).id


@pytest.fixture
def farm(migrated_db: Database) -> dict[str, int]:
    """Failures in each of the fixed error formats, plus rows in other states."""
    return {
        "transcribe_failed": _recording(
            "night-001.wav",
            Status.FAILED,
            error_message="Step transcribe (12 segments) failed: CUDA out of memory",
        ),
        "transcribe_timeout": _recording(
            "night-002.wav",
            Status.FAILED,
            error_message="Timeout in step transcribe (3 segments): JobTimeoutException()",
        ),
        "transcribe_stuck": _recording(
            "night-003.wav",
            Status.FAILED,
            error_message="Stuck in step transcribe (45 segments); last update 17m ago (cleanup)",
        ),
        "transcribe_operator": _recording(
            "day-004.wav",
            Status.FAILED,
            error_message="Failed by operator in step transcribe (4 segments): wrong file",
        ),
        "metadata_failed": _recording(
            "night-005.wav",
            Status.FAILED,
            error_message="Step extract_metadata failed: not readable audio",
        ),
        "operator_queued": _recording(
            "night-006.wav", Status.FAILED, error_message="Failed by operator: duplicate"
        ),
        "transcribing": _recording(
            "night-007.wav", Status.PROCESSING, processing_step="transcribe"
        ),
        "queued": _recording("night-008.wav", Status.QUEUED),
        "done": _recording("night-009.wav", Status.DONE),
    }


def test_failed_step_reads_every_fixed_format() -> None:
    assert ops.failed_step("Step transcribe (12 segments) failed: boom") == "transcribe"
    assert ops.failed_step("Step store_results failed: disk full") == "store_results"
    assert ops.failed_step("Timeout in step diarization (0 segments): x") == "diarization"
    assert ops.failed_step("Stuck in step analytics (0 segments); last update 20m") == "analytics"
    assert ops.failed_step("Failed by operator in step transcribe (4 segments): r") == "transcribe"
    assert ops.failed_step("Failed by operator: duplicate") is None
    assert ops.failed_step(None) is None
    # Every form the SQL filter matches is one failed_step reads.
    for form in FAILED_STEP_FORMS:
        assert ops.failed_step(form.format(step="transcribe") + "…") == "transcribe"


def test_selection_by_status_step_and_search(farm: dict[str, int]) -> None:
    failed = ops.select_marks(Status.FAILED)
    assert set(failed) == {
        farm[name]
        for name in (
            "transcribe_failed",
            "transcribe_timeout",
            "transcribe_stuck",
            "transcribe_operator",
            "metadata_failed",
            "operator_queued",
        )
    }
    assert failed[farm["transcribe_failed"]] == Seen(1, Status.FAILED)

    in_transcribe = ops.select_marks(step="transcribe")
    assert set(in_transcribe) == {
        farm["transcribe_failed"],
        farm["transcribe_timeout"],
        farm["transcribe_stuck"],
        farm["transcribe_operator"],
        farm["transcribing"],  # processing that step now
    }
    failed_in_transcribe = ops.select_marks(Status.FAILED, "transcribe", "NIGHT")
    assert set(failed_in_transcribe) == {
        farm["transcribe_failed"],
        farm["transcribe_timeout"],
        farm["transcribe_stuck"],
    }
    assert set(ops.select_marks(step="extract_metadata")) == {farm["metadata_failed"]}
    # '_' in a step name is not a LIKE wildcard: it does not match 'extractXmetadata'.
    Recording.update(error_message="Step extractXmetadata failed: x").where(
        Recording.id == farm["metadata_failed"]
    ).execute()
    assert ops.select_marks(step="extract_metadata") == {}
    assert set(ops.select_marks(ids=[farm["queued"], farm["done"], 999])) == {
        farm["queued"],
        farm["done"],
    }


def test_bulk_requeue_counts_moved_on_and_skipped(farm: dict[str, int]) -> None:
    marks = ops.select_marks(search="night")
    # Between marking and applying: the sweep takes one failed recording back (attempt
    # bumped), and a worker finishes the processing one (same attempt, new status).
    Recording.update(status=Status.QUEUED, attempt=2).where(
        Recording.id == farm["transcribe_stuck"]
    ).execute()
    Recording.update(status=Status.DONE, processing_step=None).where(
        Recording.id == farm["transcribing"]
    ).execute()

    outcome = ops.requeue_marked(marks, now=NOW)

    changed = {r.id for r in outcome.changed}
    assert changed == {
        farm[name]
        for name in (
            "transcribe_failed",
            "transcribe_timeout",
            "metadata_failed",
            "operator_queued",
            "done",
        )
    }
    assert sorted(outcome.moved_on) == sorted([farm["transcribe_stuck"], farm["transcribing"]])
    assert outcome.skipped == [(farm["queued"], "already queued")]
    assert outcome.describe() == "requeued 5; 2 had moved on meanwhile; 1 skipped (already queued)"
    for recording in outcome.changed:
        row = Recording.get_by_id(recording.id)
        assert (row.status, row.attempt, row.error_message) == (Status.QUEUED, 2, None)
    # What moved on was left as the other party made it.
    assert Recording.get_by_id(farm["transcribing"]).status is Status.DONE
    assert Recording.get_by_id(farm["transcribe_stuck"]).attempt == 2


def test_bulk_fail_uses_the_single_fail_transition(farm: dict[str, int]) -> None:
    marks = ops.select_marks(ids=[farm["transcribing"], farm["queued"], farm["done"]])
    with pytest.raises(InvalidTransitionError, match="reason is required"):
        ops.fail_marked(marks, "  ")
    assert Recording.get_by_id(farm["queued"]).status is Status.QUEUED

    outcome = ops.fail_marked(marks, " bad batch ", now=NOW)

    assert {r.id for r in outcome.changed} == {farm["transcribing"], farm["queued"]}
    assert outcome.skipped == [(farm["done"], "already done")]
    assert outcome.describe() == "failed 2; 1 skipped (already done)"
    transcribing = Recording.get_by_id(farm["transcribing"])
    assert transcribing.error_message == (
        "Failed by operator in step transcribe (0 segments): bad batch"
    )
    assert transcribing.attempt == 2  # a job still running it is fenced off
    assert Recording.get_by_id(farm["queued"]).error_message == "Failed by operator: bad batch"
    # Failed by the operator in transcribe: the step filter now finds it there.
    assert farm["transcribing"] in ops.select_marks(Status.FAILED, "transcribe")


def test_describe_groups_several_skip_reasons(farm: dict[str, int]) -> None:
    marks = ops.select_marks(ids=[farm["done"], farm["metadata_failed"], farm["transcribe_stuck"]])
    outcome = ops.fail_marked(marks, "cleanup")
    assert outcome.describe() == "failed 0; 3 skipped (2 already failed, 1 already done)"


def test_rediarize_pending_queues_every_flagged_recording(farm: dict[str, int]) -> None:
    flagged = [
        _recording(f"flagged-{n}.wav", Status.DONE, diarization_pending=True) for n in range(5)
    ]
    queued = ops.rediarize_pending(now=NOW)
    assert sorted(r.id for r in queued) == flagged
    assert {Recording.get_by_id(i).status for i in flagged} == {Status.QUEUED}
