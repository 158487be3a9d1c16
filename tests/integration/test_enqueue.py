"""Enqueueing queued recordings: one live job per recording, survives a Redis flush."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from rq.job import Job

from tests.audio import write_tone_wav
from tests.integration.cli_runner import run_cli
from whisperops import ops
from whisperops.config import Settings
from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
from whisperops.jobs.names import PROCESS_RECORDING, job_id
from whisperops.models import Recording


@pytest.fixture
def three_queued(settings: Settings, migrated_db, tmp_path: Path) -> list[int]:
    ids = []
    for index in range(3):
        path = write_tone_wav(tmp_path / f"r{index}.wav", frequency=300 + 100 * index)
        ids.append(ops.ingest_file(path, settings).recording_id)
    return ids


def test_enqueues_each_once_with_recording_and_attempt(
    settings: Settings, redis: Redis, three_queued: list[int]
) -> None:
    queue = transcribe_queue(redis)
    first = enqueue_queued(queue, settings)
    assert first.enqueued == three_queued
    for recording_id in three_queued:
        job = Job.fetch(job_id(recording_id, 1), connection=redis)
        assert job.func_name == PROCESS_RECORDING
        assert job.args == (recording_id, 1)
        assert Recording.get_by_id(recording_id).attempt == 1

    second = enqueue_queued(queue, settings)
    assert second.enqueued == [] and second.already_live == three_queued
    assert second.in_flight == 3
    assert queue.count == 3


def test_flushed_redis_gets_jobs_again(
    settings: Settings, redis: Redis, three_queued: list[int]
) -> None:
    queue = transcribe_queue(redis)
    enqueue_queued(queue, settings)
    redis.flushdb()
    again = enqueue_queued(queue, settings)
    assert again.enqueued == three_queued
    assert queue.count == 3
    assert all(Recording.get_by_id(i).attempt == 2 for i in three_queued)


def test_in_flight_bound_leaves_rest_waiting(
    settings: Settings, redis: Redis, three_queued: list[int]
) -> None:
    bounded = settings.replace(max_in_flight=2)
    report = enqueue_queued(transcribe_queue(redis), bounded)
    assert report.enqueued == three_queued[:2]
    assert enqueue_queued(transcribe_queue(redis), bounded).enqueued == []


def test_enqueue_command(
    environ: dict[str, str], redis_url: str, redis: Redis, three_queued: list[int]
) -> None:
    result = run_cli({**environ, "REDIS_URL": redis_url}, "enqueue")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "enqueued 3 (#1, #2, #3); 0 were in flight (max_in_flight 50)"
