"""SIGTERM to a worker mid-transcription: the recording goes back to the queue, intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis

from tests.conftest import ON_SQLITE
from tests.integration.cli_runner import ROOT
from whisperops import ops
from whisperops.config import Settings
from whisperops.jobs.enqueue import enqueue_recording, transcribe_queue
from whisperops.models import Recording, Status, StepOutcome, StepRun, Transcript
from whisperops.runtime import init_runtime
from whisperops.sweep import enqueue_pending_recordings
from whisperops.worker.rq_workers import build_transcribe_worker


@ON_SQLITE  # the release is the fenced transition every DB test runs on both
def test_sigterm_mid_transcription_releases_recording_without_using_a_retry(
    settings: Settings,
    environ: dict[str, str],
    redis_url: str,
    redis: Redis,
    migrated_db,
    long_speech_wav: Path,
) -> None:
    configured = settings.replace(redis_url=redis_url)
    init_runtime(configured)
    recording_id = ops.ingest_file(long_speech_wav, configured).recording_id
    enqueue_recording(transcribe_queue(redis), Recording.get_by_id(recording_id), configured)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("WHISPEROPS_")
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "whisperops", "worker"],
        cwd=ROOT,
        env={**env, **environ, "REDIS_URL": redis_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            row = Recording.get_by_id(recording_id)
            if row.processing_step == "transcribe" and (row.processing_segments_count or 0) >= 1:
                break
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the worker never got into transcription"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=90)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "back to queued" in output, output[-3000:]

    row = Recording.get_by_id(recording_id)
    assert row.status is Status.QUEUED
    assert row.retry_count == 0 and row.error_message is None
    assert row.processing_step is None and row.processing_segments_count is None
    interrupted = StepRun.get((StepRun.recording == recording_id) & (StepRun.step == "transcribe"))
    assert interrupted.outcome is StepOutcome.FAILED
    assert interrupted.detail == "interrupted: worker shut down, recording released"
    assert Transcript.select().count() == 0
    output_dir = configured.output_dir
    assert not output_dir.exists() or not any(output_dir.iterdir())  # nothing half-written

    # The next sweep puts it back on the queue and another worker finishes it.
    assert enqueue_pending_recordings(configured, redis).enqueue.enqueued == [recording_id]
    assert build_transcribe_worker(configured).work(burst=True)
    done = Recording.get_by_id(recording_id)
    assert done.status is Status.DONE and done.retry_count == 0
    assert Transcript.select().where(Transcript.recording == recording_id).count() == 1
