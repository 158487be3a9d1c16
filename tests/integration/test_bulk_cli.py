"""`whisperops requeue` and `whisperops fail` on a filtered set, as an operator runs them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
from peewee import Database
from redis import Redis

from tests.integration.cli_runner import run_cli
from whisperops.jobs.enqueue import transcribe_queue
from whisperops.jobs.names import job_id
from whisperops.models import Recording, Status

NOW = datetime(2026, 11, 30, 12, 0, 0)


def _recording(name: str, status: Status, error: str | None = None, **fields) -> int:
    return Recording.create(
        file_path=f"/inbox/{name}",
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=1000,
        status=status,
        attempt=1,
        error_message=error,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(minutes=5),
        **fields,
    ).id


@pytest.fixture
def env(environ: dict[str, str], redis_url: str, redis: Redis) -> dict[str, str]:
    return {**environ, "REDIS_URL": redis_url, "WHISPEROPS_MAX_IN_FLIGHT": "10"}


@pytest.fixture
def overnight(migrated_db: Database) -> dict[str, int]:
    return {
        "oom_a": _recording(
            "night-a.wav", Status.FAILED, "Step transcribe (3 segments) failed: OOM"
        ),
        "oom_b": _recording(
            "night-b.wav", Status.FAILED, "Stuck in step transcribe (9 segments); x"
        ),
        "day": _recording("day-c.wav", Status.FAILED, "Step transcribe (1 segments) failed: OOM"),
        "metadata": _recording("night-d.wav", Status.FAILED, "Step extract_metadata failed: bad"),
        "queued": _recording("night-e.wav", Status.QUEUED),
        "done": _recording("night-f.wav", Status.DONE),
    }


def test_requeue_failed_in_transcribe_matching_a_search(
    env: dict[str, str], overnight: dict[str, int], redis: Redis
) -> None:
    dry = run_cli(
        env,
        "requeue",
        "--status",
        "failed",
        "--step",
        "transcribe",
        "--search",
        "NIGHT",
        "--dry-run",
    )
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == "selected 2 recordings (status failed, step transcribe, search 'NIGHT')"
    assert lines[1].startswith(f"#{overnight['oom_a']} failed     night-a.wav  ! Step transcribe")
    assert lines[-1] == "dry run: would requeue 2; nothing changed"
    assert {r.status for r in Recording.select()} == {Status.FAILED, Status.QUEUED, Status.DONE}
    assert transcribe_queue(redis).count == 0

    result = run_cli(
        env, "requeue", "--status", "failed", "--step", "transcribe", "--search", "NIGHT"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "selected 2 recordings (status failed, step transcribe, search 'NIGHT')",
        "requeued 2",
        "started 2 jobs",
    ]
    chosen = (overnight["oom_a"], overnight["oom_b"])
    assert sorted(transcribe_queue(redis).job_ids) == sorted(job_id(i, 2) for i in chosen)
    for recording_id in chosen:
        row = Recording.get_by_id(recording_id)
        assert (row.status, row.attempt, row.error_message) == (Status.QUEUED, 2, None)
    assert Recording.get_by_id(overnight["day"]).status is Status.FAILED
    assert Recording.get_by_id(overnight["metadata"]).status is Status.FAILED


def test_requeue_ids_reports_skipped_and_fail_filters_with_a_reason(
    env: dict[str, str], overnight: dict[str, int], redis: Redis
) -> None:
    ids = [str(overnight[name]) for name in ("queued", "done", "metadata")]
    requeued = run_cli(env, "requeue", *ids)
    assert requeued.returncode == 0, requeued.stderr
    assert requeued.stdout.splitlines() == [
        "selected 3 recordings",
        "requeued 2; 1 skipped (already queued)",
        "started 2 jobs",
    ]

    failed = run_cli(
        env, "fail", "--status", "queued", "--search", "night", "--reason", "bad batch"
    )
    assert failed.returncode == 0, failed.stderr
    # The two just requeued and the one that was queued already.
    assert failed.stdout.splitlines() == [
        "selected 3 recordings (status queued, search 'night')",
        "failed 3",
    ]
    for name in ("queued", "done", "metadata"):
        row = Recording.get_by_id(overnight[name])
        assert (row.status, row.error_message) == (Status.FAILED, "Failed by operator: bad batch")


def test_bulk_forms_need_ids_or_a_filter(env: dict[str, str], overnight: dict[str, int]) -> None:
    bare = run_cli(env, "requeue")
    assert bare.returncode == 2
    assert "give recording ids, or at least one of --status, --step, --search" in bare.stderr
    no_reason = run_cli(env, "fail", "--status", "queued")
    assert no_reason.returncode == 2 and "--reason" in no_reason.stderr
    helped = run_cli(env, "requeue", "--help")
    assert "--step [parse_metadata|extract_metadata|transcribe" in helped.stdout
    assert "--dry-run" in helped.stdout
    assert Recording.get_by_id(overnight["queued"]).status is Status.QUEUED
