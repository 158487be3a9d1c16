"""`whisperops worker --processes 2` (RQ's WorkerPool) on real speech: recordings side by
side with their own progress, a corrupt file failing alone, a killed process recovered."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from redis import Redis
from rq import Worker

from tests.conftest import ON_SQLITE
from tests.integration.pipeline_helpers import ingest
from tests.real_speech import real_recording
from tests.reliability.harness import (
    SweepLoop,
    Workers,
    current,
    transcripts,
    wait_until,
    worker_env,
)
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
from whisperops.jobs.names import job_id
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun


def ingest_calls(settings: Settings, folder: Path, count: int) -> list[Recording]:
    """``count`` 30-s calls of real speech, each at its own gain, ingested."""
    return [
        ingest(settings, real_recording(folder / f"call-{i}.wav", 1, first_gain=i))
        for i in range(count)
    ]


def live_workers(queue) -> set[int]:
    """Pids of the registered workers of ``queue`` whose process is running."""
    pids = set()
    for worker in Worker.all(queue=queue):
        try:
            os.kill(worker.pid, 0)
            pids.add(worker.pid)
        except ProcessLookupError:
            pass
    return pids


class ProgressPoller(threading.Thread):
    """Reads the rows in transcribe every 0.1 s, as the console does."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.samples: list[list[tuple[int, int, float]]] = []  # per poll: (id, attempt, ratio)

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            try:
                rows = Recording.select().where(
                    (Recording.status == Status.PROCESSING)
                    & (Recording.processing_step == "transcribe")
                )
                self.samples.append(
                    [(r.id, r.attempt, r.progress_ratio) for r in rows if r.progress_ratio]
                )
            finally:
                database_proxy.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def test_two_processes_side_by_side_own_progress_and_a_corrupt_file_fails_alone(
    rel_settings: Settings, tmp_path: Path
) -> None:
    interview = ingest(rel_settings, real_recording(tmp_path / "interview.wav", 4))
    calls = ingest_calls(rel_settings, tmp_path, 3)
    corrupt_path = tmp_path / "corrupt.wav"
    corrupt_path.write_bytes(os.urandom(30_000))
    corrupt = ingest(rel_settings, corrupt_path)
    enqueue_queued(
        transcribe_queue(Redis.from_url(rel_settings.redis_url.get_secret_value())), rel_settings
    )

    workers = Workers(worker_env(rel_settings, cpu_threads=1, batch_size=8), tmp_path / "logs")
    poller = ProgressPoller()
    poller.start()
    try:
        pool = workers.start_pool("pool", 2, "--burst")
        pool.wait(timeout=300)
    finally:
        poller.stop()
        workers.stop_all()
    logs = workers.logs()
    assert pool.returncode == 0, logs[-3000:]

    for recording in [interview, *calls]:
        assert current(recording.id).status is Status.DONE, current(recording.id).error_message
    failed = current(corrupt.id)
    assert failed.status is Status.FAILED
    assert failed.error_message.startswith(
        "Step extract_metadata failed: corrupt.wav is not readable audio"
    )
    assert logs.count("Loading Whisper model") == 2  # one model per process

    # Two recordings were in transcribe at once, each with its own progress.
    assert max(len(sample) for sample in poller.samples) == 2
    by_recording: dict[int, list[float]] = {}
    for sample in poller.samples:
        for recording_id, _attempt, ratio in sample:
            by_recording.setdefault(recording_id, []).append(ratio)
    assert len(by_recording) >= 2
    for ratios in by_recording.values():
        assert ratios == sorted(ratios) and ratios[0] > 0 and ratios[-1] <= 1

    modes = {
        run.recording_id: run.detail
        for run in StepRun.select().where(
            (StepRun.step == "transcribe") & (StepRun.outcome == StepOutcome.OK)
        )
    }
    assert all(", batched (8), " in modes[r.id] for r in [interview, *calls])


# Its own deadlines add up to 9 minutes (120 + 300 + 60 + 60 s).
@pytest.mark.timeout(900)
@ON_SQLITE
def test_sigkill_of_one_pool_process_is_recovered_once_and_the_other_goes_on(
    rel_settings: Settings, tmp_path: Path
) -> None:
    # Sequential, so the long recording is still in transcribe when it is killed.
    long = ingest(rel_settings, real_recording(tmp_path / "long.wav", 6))
    calls = ingest_calls(rel_settings, tmp_path, 4)
    redis = Redis.from_url(rel_settings.redis_url.get_secret_value())
    queue = transcribe_queue(redis)
    enqueue_queued(queue, rel_settings)
    env = worker_env(rel_settings, cpu_threads=1, stuck_processing_threshold_sec=3, max_retries=5)
    workers = Workers(env, tmp_path / "logs")
    sweep = SweepLoop(rel_settings, interval=1.0)
    try:
        pool = workers.start_pool("pool", 2)
        wait_until(
            lambda: (current(long.id).processing_segments_count or 0) >= 1,
            120,
            "long in transcribe",
        )
        doomed_attempt = current(long.id).attempt
        running = job_id(long.id, doomed_attempt)
        doomed = next(w for w in Worker.all(queue=queue) if w.get_current_job_id() == running)
        os.kill(doomed.pid, signal.SIGKILL)
        sweep.start()
        wait_until(
            lambda: all(current(r.id).status is Status.DONE for r in [long, *calls]),
            300,
            "every recording done",
        )
        # The pool replaced the killed process (whose entry in RQ's registry stays
        # until its heartbeat expires).
        wait_until(lambda: len(live_workers(queue)) == 2, 60, "two live workers registered")
        assert doomed.pid not in live_workers(queue)
        assert pool.poll() is None
        pool.send_signal(signal.SIGTERM)
        pool.wait(timeout=60)
    finally:
        sweep.stop()
        workers.stop_all()

    row = current(long.id)
    assert row.attempt > doomed_attempt and row.retry_count == 1 and row.error_message is None
    assert transcripts(long.id) == 1
    history = list(StepRun.select().where(StepRun.recording == long.id).order_by(StepRun.id))
    abandoned = [
        run for run in history if run.attempt == doomed_attempt and run.step == "transcribe"
    ]
    assert len(abandoned) == 1 and abandoned[0].detail.startswith("abandoned: no update for ")
    assert [run.step for run in history if run.attempt == row.attempt] == list(Step)
    for call in calls:
        assert current(call.id).retry_count == 0  # the other process went on untouched
    assert "Traceback" not in workers.logs()
