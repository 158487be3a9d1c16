"""The sweep (plan §7.4): stuck detection, enqueue, one sweep per interval. Time is injected."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from peewee import Database
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.job import Job

from tests.audio import write_tone_wav
from tests.conftest import free_port
from tests.integration.cli_runner import run_cli
from whisperops import ops, sweep
from whisperops.config import Settings
from whisperops.db import is_postgres
from whisperops.jobs.names import (
    MAINTENANCE_QUEUE,
    SWEEP_JOB_ID,
    SWEEP_LOCK_KEY,
    TRANSCRIBE_QUEUE,
    job_id,
)
from whisperops.models import Recording, Status, StepOutcome, StepRun
from whisperops.runtime import init_runtime
from whisperops.scheduler import build_scheduler, register_sweep
from whisperops.sweep import enqueue_pending_recordings, run_scheduled_sweep
from whisperops.worker.rq_workers import build_maintenance_worker

NOW = datetime(2026, 11, 30, 12, 0, 0)


@pytest.fixture
def sweep_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    configured = settings.replace(
        redis_url=redis_url, max_retries=3, stuck_processing_threshold_sec=900
    )
    init_runtime(configured)
    return configured


def make_recording(
    settings: Settings, tmp_path: Path, name: str, frequency: float, **fields
) -> Recording:
    path = write_tone_wav(tmp_path / name, frequency=frequency)
    recording_id = ops.ingest_file(path, settings).recording_id
    if fields:
        Recording.update(**fields).where(Recording.id == recording_id).execute()
    return Recording.get_by_id(recording_id)


def stuck_fields(retry_count: int, minutes_ago: float = 17) -> dict:
    return {
        "status": Status.PROCESSING,
        "processing_step": "transcribe",
        "processing_segments_count": 45,
        "retry_count": retry_count,
        "attempt": 2,
        "processing_step_started_at": NOW - timedelta(minutes=40),
        "updated_at": NOW - timedelta(minutes=minutes_ago, seconds=5),
    }


def test_stuck_at_max_retries_is_failed_with_step_segments_and_cleanup(
    sweep_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    recording = make_recording(sweep_settings, tmp_path, "a.wav", 300, **stuck_fields(2))

    report = enqueue_pending_recordings(sweep_settings, redis, now=NOW)

    row = Recording.get_by_id(recording.id)
    assert report.failed == [recording.id]
    assert row.status is Status.FAILED
    assert row.error_message == (
        "Stuck in step transcribe (45 segments); last update 17m ago (cleanup)"
    )
    assert row.retry_count == 3
    assert row.attempt == 3  # the stuck worker is fenced off
    assert row.processing_step is None and row.processing_segments_count is None


def test_stuck_below_max_is_requeued_and_enqueued(
    sweep_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    recording = make_recording(
        sweep_settings, tmp_path, "a.wav", 300, error_message="old", **stuck_fields(0)
    )
    started = NOW - timedelta(minutes=40)
    StepRun.create(recording=recording.id, attempt=2, step="transcribe", started_at=started)

    report = enqueue_pending_recordings(sweep_settings, redis, now=NOW)

    row = Recording.get_by_id(recording.id)
    assert report.requeued == [recording.id]
    # The lost worker's open step is closed in the history, saying what happened.
    run = StepRun.get(StepRun.recording == recording.id)
    assert run.finished_at == NOW and run.outcome is StepOutcome.FAILED
    assert run.detail == "abandoned: no update for 1025s (worker lost); requeued by the sweep"
    assert row.status is Status.QUEUED
    assert row.error_message is None
    assert row.retry_count == 1
    assert row.processing_step is None
    # Requeue fenced attempt 2 (-> 3); the enqueue then took attempt 4.
    assert row.attempt == 4
    job = Job.fetch(job_id(recording.id, 4), connection=redis)
    assert job.args == (recording.id, 4)


def test_stuck_log_line_names_file_step_segments_and_age(
    sweep_settings: Settings, redis: Redis, tmp_path: Path, caplog
) -> None:
    recording = make_recording(sweep_settings, tmp_path, "call 7.wav", 300, **stuck_fields(0))
    caplog.set_level(logging.INFO, logger="whisperops.sweep")

    enqueue_pending_recordings(sweep_settings, redis, now=NOW)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Stuck")]
    updated_at = (NOW - timedelta(minutes=17, seconds=5)).isoformat()
    assert lines == [
        f"Stuck recording id={recording.id} file_name='call 7.wav' processing_step=transcribe "
        f"processing_segments_count=45 updated_at={updated_at} age_sec=1025"
    ]


def test_recently_updated_processing_row_is_untouched(
    sweep_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    recording = make_recording(
        sweep_settings, tmp_path, "a.wav", 300, **stuck_fields(0, minutes_ago=14)
    )
    before = Recording.get_by_id(recording.id).__data__

    report = enqueue_pending_recordings(sweep_settings, redis, now=NOW)

    assert report.requeued == [] and report.failed == []
    assert Recording.get_by_id(recording.id).__data__ == before


def test_queued_enqueued_once_across_sweeps_and_again_after_a_flush(
    sweep_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    ids = [make_recording(sweep_settings, tmp_path, f"q{i}.wav", 300 + 50 * i).id for i in range(3)]
    queue = Queue(TRANSCRIBE_QUEUE, connection=redis)

    assert enqueue_pending_recordings(sweep_settings, redis, now=NOW).enqueue.enqueued == ids
    assert enqueue_pending_recordings(sweep_settings, redis, now=NOW).enqueue.enqueued == []
    assert sorted(job.args for job in queue.jobs) == [(i, 1) for i in ids]

    redis.flushdb()  # the test's DB only: FLUSHALL would empty a shared Redis
    assert enqueue_pending_recordings(sweep_settings, redis, now=NOW).enqueue.enqueued == ids
    assert sorted(job.args for job in queue.jobs) == [(i, 2) for i in ids]


def test_two_schedulers_give_one_sweep_per_interval(
    sweep_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    queued = make_recording(sweep_settings, tmp_path, "q.wav", 300)
    first, second = build_scheduler(sweep_settings, redis), build_scheduler(sweep_settings, redis)
    register_sweep(first, sweep_settings)
    register_sweep(second, sweep_settings)
    assert first.count() == 1 and [j.id for j in first.get_jobs()] == [SWEEP_JOB_ID]

    first.enqueue_jobs()
    second.enqueue_jobs()
    maintenance = Queue(MAINTENANCE_QUEUE, connection=redis)
    assert maintenance.job_ids == [SWEEP_JOB_ID]

    # The maintenance worker runs it; the queued recording lands on the transcribe queue.
    build_maintenance_worker(sweep_settings).work(burst=True)
    assert Queue(TRANSCRIBE_QUEUE, connection=redis).job_ids == [job_id(queued.id, 1)]

    # A second sweep in the same interval (e.g. enqueued by a stray scheduler) skips.
    assert run_scheduled_sweep() == "sweep skipped: another sweep ran within this interval"


def test_scheduled_sweep_skips_while_the_database_is_down_in_one_line_each_way(
    sweep_settings: Settings,
    redis: Redis,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queued = make_recording(sweep_settings, tmp_path, "q.wav", 300)
    monkeypatch.setattr(sweep.database_outage, "down_since", None)  # this process's outage
    init_runtime(sweep_settings.replace(database_url="postgresql://wo:pw@127.0.0.1:1/nowhere"))
    caplog.set_level(logging.WARNING, logger="whisperops.sweep")
    try:
        for _ in range(3):  # three intervals of outage
            redis.delete(SWEEP_LOCK_KEY)
            assert run_scheduled_sweep() == "sweep skipped: the database is unreachable"
    finally:
        init_runtime(sweep_settings)
    redis.delete(SWEEP_LOCK_KEY)
    assert run_scheduled_sweep().startswith("stuck: 0 requeued, 0 failed; ")
    assert Queue(TRANSCRIBE_QUEUE, connection=redis).job_ids == [job_id(queued.id, 1)]
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("Sweep: the database unreachable (sweeps are skipped until")
    assert "is PostgreSQL running on 127.0.0.1:1?" in lines[0] and ":pw@" not in lines[0]
    assert lines[1].startswith("Sweep: the database reachable again after")


def test_scheduler_puts_the_sweep_back_after_a_flush_and_outlives_redis(
    sweep_settings: Settings, redis: Redis
) -> None:
    scheduler = build_scheduler(sweep_settings, redis)
    register_sweep(scheduler, sweep_settings)
    redis.flushdb()  # a Redis restart or flush takes the schedule with it
    scheduler.enqueue_jobs()
    assert SWEEP_JOB_ID in scheduler
    assert Queue(MAINTENANCE_QUEUE, connection=redis).job_ids == [SWEEP_JOB_ID]

    # With Redis gone, each poll logs and returns instead of ending the process.
    unreachable = Redis(port=free_port(), retry=Retry(NoBackoff(), 0))
    down = build_scheduler(sweep_settings, unreachable)
    assert down.acquire_lock() is False
    assert down.enqueue_jobs() == []
    down.heartbeat()
    down.remove_lock()


def test_sweep_command_prints_what_it_did(
    sweep_settings: Settings, environ: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    make_recording(
        sweep_settings, tmp_path, "a.wav", 300, **stuck_fields(2, minutes_ago=60 * 24 * 365)
    )
    make_recording(sweep_settings, tmp_path, "b.wav", 400)
    result = run_cli({**environ, "REDIS_URL": redis_url}, "sweep")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "stuck: 0 requeued, 1 failed; enqueued 1 (#2)"
    assert lines[1].startswith(
        "failed #1 a.wav: Stuck in step transcribe (45 segments); last update"
    )


def test_stuck_query_uses_status_updated_at_index(migrated_db: Database) -> None:
    # Enough rows, mostly finished, with statistics, so the planner has a real choice.
    rows = [
        {
            "file_path": f"/a/{i}.wav",
            "file_name": f"{i}.wav",
            "sha256": f"{i:064x}",
            "size_bytes": 1,
            "status": (Status.PROCESSING if i % 100 == 0 else Status.DONE).value,
            "created_at": NOW - timedelta(days=1),
            "updated_at": NOW - timedelta(seconds=i),
        }
        for i in range(3000)
    ]
    for offset in range(0, len(rows), 500):
        Recording.insert_many(rows[offset : offset + 500]).execute()
    migrated_db.execute_sql("ANALYZE")
    query = Recording.select().where(
        (Recording.status == Status.PROCESSING)
        & (Recording.updated_at < NOW - timedelta(minutes=15))
    )
    sql, params = query.sql()
    if is_postgres(migrated_db):
        plan = " ".join(row[0] for row in migrated_db.execute_sql(f"EXPLAIN {sql}", params))
        assert "recordings_status_updated_at" in plan, plan
        assert "Seq Scan" not in plan, plan
    else:
        plan = " ".join(
            str(row) for row in migrated_db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)
        )
        assert "USING INDEX recordings_status_updated_at" in plan, plan
