"""Pausing intake: nothing new is enqueued or started anywhere until it is resumed.

The commands run as an operator runs them (a subprocess); the jobs run in a real
burst worker; the state is in the database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from tests.audio import write_tone_wav
from tests.integration.cli_runner import run_cli
from tests.integration.pipeline_helpers import enqueue, ingest, run_burst
from whisperops import ops
from whisperops.clock import utcnow
from whisperops.config import Settings
from whisperops.jobs.enqueue import enqueue_attempt, transcribe_queue
from whisperops.jobs.names import job_id
from whisperops.models import Recording, Status, StepRun
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.watcher import InboxWatcher


@pytest.fixture
def env(environ: dict[str, str], pipeline_settings: Settings) -> dict[str, str]:
    return {**environ, "REDIS_URL": pipeline_settings.redis_url.get_secret_value()}


def cli(env: dict[str, str], *args: str) -> str:
    result = run_cli(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def intake_gauge(redis: Redis) -> float:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WhisperopsCollector(lambda: redis))
    text = generate_latest(registry).decode()
    (family,) = (
        f for f in text_string_to_metric_families(text) if f.name == "whisperops_intake_paused"
    )
    return family.samples[0].value


def tones(settings: Settings, folder: Path, count: int) -> list[Recording]:
    return [
        ingest(settings, write_tone_wav(folder / f"tone{n}.wav", frequency=300 + 50 * n))
        for n in range(count)
    ]


def test_paused_sweep_enqueue_and_requeue_enqueue_nothing_and_say_so(
    env: dict[str, str], pipeline_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    first, second = tones(pipeline_settings, tmp_path, 2)
    queue = transcribe_queue(redis)
    assert intake_gauge(redis) == 0

    paused = cli(env, "pause", "--reason", "kernel update")

    assert paused.startswith("intake paused since ")
    assert ": kernel update; 0 waiting jobs withdrawn; running jobs finish (0 processing)" in (
        paused
    )
    assert intake_gauge(redis) == 1
    assert cli(env, "pause").startswith("intake was already paused since ")
    assert ": kernel update;" in cli(env, "pause")  # who paused first, and why, is kept

    swept = cli(env, "sweep")
    assert "intake paused since" in swept and "enqueued 0, 2 stay queued" in swept
    enqueued = cli(env, "enqueue")
    assert "intake paused since" in enqueued and "enqueued 0, 2 stay queued" in enqueued
    assert queue.count == 0

    ops.fail(second.id, "wrong customer")
    requeued = cli(env, "requeue", str(second.id))
    assert "not started: intake paused since" in requeued
    assert requeued.endswith("it stays queued until `whisperops resume`")
    assert queue.count == 0
    assert Recording.get_by_id(second.id).status is Status.QUEUED

    resumed = cli(env, "resume")

    assert resumed.startswith("intake resumed by ")
    assert f"enqueued 2 (#{first.id}, #{second.id})" in resumed
    assert sorted(queue.job_ids) == sorted(
        job_id(r.id, Recording.get_by_id(r.id).attempt) for r in (first, second)
    )
    assert intake_gauge(redis) == 0
    assert cli(env, "resume").startswith("intake was not paused; enqueued 0")


def test_watcher_ingests_while_paused_but_enqueues_nothing(
    pipeline_settings: Settings, redis: Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = pipeline_settings.replace(inbox_dir=tmp_path / "inbox", watcher_stable_sec=5)
    ops.pause("moving the archive")
    clock_now = 1_000_000.0
    watcher = InboxWatcher(settings, lambda: clock_now)
    call = write_tone_wav(settings.inbox_dir / "call.wav", frequency=300)
    os.utime(call, (clock_now - 60, clock_now - 60))
    watcher.poll_once()
    (added,) = watcher.poll_once()

    with caplog.at_level(logging.INFO, logger="whisperops.jobs.enqueue"):
        watcher.enqueue_now()

    assert added.outcome == "added"
    assert Recording.get_by_id(added.recording_id).status is Status.QUEUED
    assert transcribe_queue(redis).count == 0
    assert "Enqueued nothing: intake paused" in caplog.text
    assert "1 stay queued until `whisperops resume`" in caplog.text


def test_pause_drains_the_queue_and_a_worker_refuses_a_job_that_slipped_through(
    env: dict[str, str],
    pipeline_settings: Settings,
    redis: Redis,
    speech_wav: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    speech = ingest(pipeline_settings, speech_wav)
    (tone,) = tones(pipeline_settings, tmp_path, 1)
    enqueue(pipeline_settings, speech)
    enqueue(pipeline_settings, tone)
    queue = transcribe_queue(redis)
    assert queue.count == 2

    paused = cli(env, "pause")

    assert "; 2 waiting jobs withdrawn;" in paused
    assert queue.count == 0
    assert [Recording.get_by_id(r.id).status for r in (speech, tone)] == [Status.QUEUED] * 2

    # A job another host enqueued just before it saw the pause.
    slipped = Recording.get_by_id(speech.id)
    enqueue_attempt(queue, slipped, pipeline_settings)
    with caplog.at_level(logging.INFO, logger="whisperops.pipeline.job"):
        run_burst(pipeline_settings)

    row = Recording.get_by_id(speech.id)
    assert row.status is Status.QUEUED and row.attempt == slipped.attempt
    assert StepRun.select().count() == 0  # nothing was started
    assert f"Not starting recording_id={speech.id} attempt {slipped.attempt}" in caplog.text

    resumed = cli(env, "resume")

    assert f"enqueued 2 (#{speech.id}, #{tone.id})" in resumed
    run_burst(pipeline_settings)
    done = Recording.get_by_id(speech.id)
    assert done.status is Status.DONE and done.attempt == slipped.attempt + 1
    assert Recording.get_by_id(tone.id).status in {Status.DONE, Status.FAILED}


def test_stuck_recovery_still_runs_while_paused_and_the_row_waits_queued(
    env: dict[str, str], pipeline_settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    (stuck,) = tones(pipeline_settings, tmp_path, 1)
    long_ago = utcnow() - timedelta(seconds=pipeline_settings.stuck_processing_threshold_sec + 60)
    # What a worker that died mid-step leaves behind.
    Recording.update(
        status=Status.PROCESSING, attempt=1, processing_step="transcribe", updated_at=long_ago
    ).where(Recording.id == stuck.id).execute()
    ops.pause()

    swept = cli(env, "sweep")

    assert swept.startswith("stuck: 1 requeued, 0 failed; intake paused")
    assert "enqueued 0, 1 stay queued" in swept
    row = Recording.get_by_id(stuck.id)
    assert row.status is Status.QUEUED and row.attempt == 2  # fenced, not enqueued
    assert transcribe_queue(redis).count == 0


def test_two_pauses_at_once_keep_the_first_pausers_record(migrated_db) -> None:
    from whisperops.ops import pause, read_intake, resume

    pause("kernel update", by="ops@farm-01")
    second = pause("disk swap", by="ops@farm-02")  # saw it running, wrote second
    assert (second.changed_by, second.reason) == ("ops@farm-01", "kernel update")
    assert read_intake().changed_by == "ops@farm-01"
    assert resume(by="ops@farm-02").paused is False
    assert resume(by="ops@farm-03").changed_by == "ops@farm-02"
