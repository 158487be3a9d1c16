"""`whisperops workers`: RQ's registry joined with the recordings, as the operator sees it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from pydantic import TypeAdapter
from redis import Redis

from tests.audio import write_tone_wav
from tests.fleet import register_worker, running_job
from tests.integration.cli_runner import ROOT, clean_environment, run_cli
from whisperops import ops
from whisperops.clock import utcnow
from whisperops.config import Settings
from whisperops.jobs.names import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
from whisperops.jobs.workers import read_workers
from whisperops.models import Recording, Status, Step
from whisperops.ops.attempt import FencedRecording
from whisperops.ops.transitions import take_next_attempt
from whisperops.schemas import WorkerInfo

WORKERS = TypeAdapter(list[WorkerInfo])


def _processing(settings: Settings, path: Path, attempt_progress: float | None = None) -> Recording:
    """A recording taken by attempt 1 and claimed, as a worker's job does."""
    added = ops.ingest_file(path, settings)
    assert added.recording_id is not None
    recording = Recording.get_by_id(added.recording_id)
    assert take_next_attempt(recording) == 1
    fenced = FencedRecording(recording.id, 1)
    assert fenced.claim() is not None
    fenced.begin_step(Step.TRANSCRIBE)
    if attempt_progress is not None:
        fenced.update(progress_ratio=attempt_progress)
    return Recording.get_by_id(recording.id)


@pytest.fixture
def fleet(settings: Settings, migrated_db, redis: Redis, tmp_path: Path) -> dict[str, Recording]:
    """A busy healthy worker, a stale one, one whose attempt moved on, an idle
    maintenance worker, and another application's worker."""
    now = utcnow()
    calls = tmp_path / "calls"
    calls.mkdir()
    recordings = {
        name: _processing(settings, write_tone_wav(calls / f"{name}.wav", frequency=freq), ratio)
        for name, freq, ratio in (("healthy", 300, 0.4), ("hung", 500, None), ("gone", 700, None))
    }
    jobs = {name: running_job(redis, r, settings, 1) for name, r in recordings.items()}
    ops.requeue(recordings["gone"].id)  # attempt 2 now: worker c's attempt 1 moved on
    born = now - timedelta(hours=3)
    register_worker(
        redis, "transcribe-a", TRANSCRIBE_QUEUE, "farm-01", 4101, born,
        now - timedelta(seconds=10), jobs["healthy"], done=12, failed=1,
    )  # fmt: skip
    register_worker(
        redis, "transcribe-b", TRANSCRIBE_QUEUE, "farm-02", 4102, born,
        now - timedelta(minutes=5), jobs["hung"], done=3,
    )  # fmt: skip
    register_worker(
        redis, "transcribe-c", TRANSCRIBE_QUEUE, "farm-03", 4103, born,
        now - timedelta(seconds=20), jobs["gone"],
    )  # fmt: skip
    register_worker(
        redis, "maintenance", MAINTENANCE_QUEUE, "farm-01", 4200, born,
        now - timedelta(minutes=2), done=40,
    )  # fmt: skip
    register_worker(redis, "mailer", "emails", "web-01", 999, born, now - timedelta(hours=2))
    return recordings


def _environ(environ: dict[str, str], redis_url: str) -> dict[str, str]:
    return {**environ, "REDIS_URL": redis_url}


def test_workers_are_listed_with_their_recordings_and_flags(
    environ: dict[str, str], redis_url: str, fleet: dict[str, Recording]
) -> None:
    listed = run_cli(_environ(environ, redis_url), "workers", "--json")
    assert listed.returncode == 0, listed.stderr
    workers = WORKERS.validate_json(listed.stdout)
    # Every object is valid against the published schema, with all its fields.
    schema = WorkerInfo.model_json_schema()
    for item in json.loads(listed.stdout):
        jsonschema.validate(item, schema)
        assert set(item) == set(schema["properties"])
    by_name = {w.name: w for w in workers}
    # Transcribe workers first, by name; the mailer app's worker is not ours.
    assert [w.name for w in workers] == [
        "transcribe-a",
        "transcribe-b",
        "transcribe-c",
        "maintenance",
    ]

    healthy = by_name["transcribe-a"]
    assert (healthy.hostname, healthy.pid, healthy.state) == ("farm-01", 4101, "busy")
    assert healthy.recording_id == fleet["healthy"].id and healthy.file_name == "healthy.wav"
    assert healthy.processing_step == "transcribe" and healthy.progress == pytest.approx(0.4)
    assert (healthy.successful_jobs, healthy.failed_jobs) == (12, 1)
    assert healthy.uptime_sec == pytest.approx(3 * 3600, abs=120)
    assert not healthy.stale and not healthy.moved_on

    assert by_name["transcribe-b"].stale and not by_name["transcribe-b"].moved_on
    gone = by_name["transcribe-c"]
    assert gone.moved_on and not gone.stale
    assert (gone.job_attempt, gone.recording_attempt, gone.recording_status) == (
        1,
        2,
        Status.QUEUED,
    )
    idle = by_name["maintenance"]
    assert idle.state == "idle" and idle.recording_id is None and not idle.flags

    table = run_cli(_environ(environ, redis_url), "workers")
    assert table.returncode == 0, table.stderr
    lines = {line.split()[0]: line for line in table.stdout.splitlines()}
    assert lines["NAME"].split()[:4] == ["NAME", "HOST", "PID", "STATE"]
    assert f"#{fleet['healthy'].id} healthy.wav" in lines["transcribe-a"]
    assert "40%" in lines["transcribe-a"]
    assert "stale" not in lines["transcribe-a"] and "moved on" not in lines["transcribe-a"]
    assert lines["transcribe-b"].endswith("stale heartbeat")
    assert lines["transcribe-c"].endswith("attempt moved on")
    assert "mailer" not in table.stdout


def test_a_recording_that_ended_is_moved_on(
    settings: Settings, fleet: dict[str, Recording], redis: Redis
) -> None:
    ops.fail(fleet["healthy"].id, "operator gave up")
    found = {w.name: w for w in read_workers(redis, utcnow())}
    assert found["transcribe-a"].moved_on
    assert found["transcribe-a"].processing_step is None  # a failed row has no step to show


def test_no_workers_and_redis_down(
    environ: dict[str, str], redis_url: str, migrated_db, redis: Redis
) -> None:
    empty = run_cli(_environ(environ, redis_url), "workers")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.strip() == "no whisperops workers registered"
    assert json.loads(run_cli(_environ(environ, redis_url), "workers", "--json").stdout) == []

    down = run_cli({**environ, "REDIS_URL": "redis://127.0.0.1:9/0"}, "workers")
    assert down.returncode != 0
    assert down.stdout == ""
    assert len(down.stderr.strip().splitlines()) == 1
    assert down.stderr.startswith("whisperops: error:") and "Redis" in down.stderr


def test_reading_keeps_the_callers_socket_timeout(redis_url: str, fleet) -> None:
    # RQ's Worker() raises a pool's timeout to 415 s; the console's is 2 s so a stalled
    # Redis cannot hang its refresh.
    connection = Redis.from_url(redis_url, socket_timeout=2)
    assert len(read_workers(connection, utcnow())) == 4
    assert connection.connection_pool.connection_kwargs["socket_timeout"] == 2


def test_a_running_maintenance_worker_is_listed(
    environ: dict[str, str], redis_url: str, migrated_db, redis: Redis
) -> None:
    env = clean_environment() | _environ(environ, redis_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "whisperops", "worker", "--maintenance", "--name", "real-one"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            found = WORKERS.validate_json(run_cli(env, "workers", "--json").stdout)
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert [(w.name, w.pid, w.queues) for w in found] == [
            ("real-one", process.pid, [MAINTENANCE_QUEUE])
        ]
        assert found[0].hostname == os.uname().nodename and not found[0].flags
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_worker_whose_key_expired_is_not_counted(redis: Redis, fleet) -> None:
    from whisperops.jobs.workers import count_workers

    assert count_workers(redis) == 4
    # SIGKILLed: its key expires, its name stays in the queue's set until a live
    # worker cleans the registry (never, if all of them died).
    redis.delete("rq:worker:transcribe-a")
    assert count_workers(redis) == 3
    assert len(read_workers(redis, utcnow())) == 3
