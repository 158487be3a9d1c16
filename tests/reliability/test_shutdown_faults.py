"""Shutdowns that go wrong: a second SIGTERM (cold shutdown) mid-transcription, and
SIGTERM while Redis is down. Neither loses the recording nor transcribes it twice."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import ON_SQLITE
from tests.integration.pipeline_helpers import ingest
from tests.reliability.harness import (
    SweepLoop,
    Valkey,
    Workers,
    current,
    recover_with_survivor,
    transcripts,
    wait_until,
    worker_env,
)
from whisperops.config import Settings
from whisperops.models import Status, StepOutcome, StepRun
from whisperops.runtime import init_runtime


def exit_within(process: subprocess.Popen, timeout: float, what: str) -> float:
    """Seconds until ``process`` exited; fails after ``timeout``."""
    started = time.monotonic()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the worker did not exit within {timeout:.0f}s of {what}") from None
    return time.monotonic() - started


def decoding(recording_id: int) -> bool:
    """In transcribe, past the first estimate: decoding has begun."""
    row = current(recording_id)
    return row.processing_step == "transcribe" and row.progress_ratio is not None


@ON_SQLITE
def test_second_sigterm_exits_at_once_and_the_sweep_recovers_the_recording(
    rel_settings: Settings, three_minute_speech: Path, tmp_path: Path
) -> None:
    # Batched over two single-threaded replicas, the calibrated layout on this kind of
    # host: the job waits on the replicas, and a batch of 3 minutes of speech takes
    # seconds, so the first SIGTERM cannot release the recording before the second.
    env = worker_env(rel_settings, stuck_processing_threshold_sec=3, batch_size=8, cpu_threads=1)
    workers = Workers(env, tmp_path / "logs")
    recording = ingest(rel_settings, three_minute_speech)
    sweep = SweepLoop(rel_settings, interval=1.0)
    sweep.start()
    try:
        worker = workers.start("doomed")
        wait_until(lambda: decoding(recording.id), 120, "decoding to begin", every=0.05)
        cut_attempt = current(recording.id).attempt
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)  # warm: release at the next segment
        time.sleep(1.5)  # RQ ignores a second signal within 1 s of the first
        worker.send_signal(signal.SIGTERM)  # cold: exit now
        exit_sec = exit_within(worker, 30, "the second SIGTERM")
        left = current(recording.id)
        exited = time.monotonic()
        # Not released by the worker (QUEUED, no retry used): still PROCESSING, or
        # already recovered by the sweep (a retry used).
        assert left.status is Status.PROCESSING or left.retry_count == 1, left.status
        recovered_sec = recover_with_survivor(workers, recording.id, exited)
    finally:
        workers.stop_all()
        sweep.stop()
    done = current(recording.id)
    print(
        f"cold shutdown: worker exited {exit_sec:.1f}s after the second SIGTERM; "
        f"recordings 1, lost 0, duplicated {transcripts(recording.id) - 1}, "
        f"recovered in {recovered_sec:.1f}s"
    )
    # Only the chunks already being decoded finish; it used to wait for the whole batch,
    # then up to a minute for RQ's pubsub thread.
    assert exit_sec < 15
    assert "cold shut down" in (tmp_path / "logs" / "doomed.log").read_text()
    assert done.retry_count == 1 and done.error_message is None
    assert transcripts(recording.id) == 1
    history = list(StepRun.select().where(StepRun.recording == recording.id).order_by(StepRun.id))
    cut = [run for run in history if run.attempt == cut_attempt]
    assert cut[-1].step == "transcribe" and cut[-1].outcome is StepOutcome.FAILED
    assert cut[-1].detail == "interrupted: worker exited at once, left to the sweep"
    final = [run for run in history if run.attempt == done.attempt]
    assert all(run.outcome in (StepOutcome.OK, StepOutcome.SKIPPED) for run in final)


@ON_SQLITE
def test_sigterm_while_redis_is_down_releases_without_using_a_retry(
    rel_settings: Settings, own_valkey: Valkey, real_interview: Path, tmp_path: Path
) -> None:
    settings = rel_settings.replace(redis_url=own_valkey.url)
    init_runtime(settings)
    workers = Workers(worker_env(settings), tmp_path / "logs")
    recording = ingest(settings, real_interview)
    sweep = SweepLoop(settings, interval=1.0)
    sweep.start()
    try:
        worker = workers.start("w1")
        wait_until(
            lambda: (current(recording.id).processing_segments_count or 0) >= 1,
            120,
            "the first segments",
            every=0.05,
        )
        own_valkey.kill()
        down = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        exit_sec = exit_within(worker, 90, "SIGTERM with Redis down")
        released = current(recording.id)
        assert worker.returncode == 0, workers.logs()[-3000:]
        own_valkey.start()  # back, empty: the sweep enqueues the recording again
        back = time.monotonic()
        done_sec = recover_with_survivor(workers, recording.id, back, name="w2", timeout=120)
    finally:
        workers.stop_all()
        sweep.stop()
    done = current(recording.id)
    print(
        f"SIGTERM with Redis down: worker exited in {exit_sec:.1f}s, Redis down "
        f"{back - down:.1f}s; recordings 1, lost 0, duplicated {transcripts(recording.id) - 1}, "
        f"retries used {done.retry_count}, DONE {done_sec:.1f}s after Redis was back"
    )
    log = (tmp_path / "logs" / "w1.log").read_text()
    assert "back to queued" in log, log[-3000:]
    assert released.status is Status.QUEUED, released.error_message
    assert released.retry_count == 0 and released.error_message is None
    interrupted = StepRun.get(
        (StepRun.recording == recording.id)
        & (StepRun.attempt == released.attempt)
        & (StepRun.step == "transcribe")
    )
    assert interrupted.outcome is StepOutcome.FAILED
    assert interrupted.detail == "interrupted: worker shut down, recording released"
    assert done.retry_count == 0 and done.error_message is None
    assert transcripts(recording.id) == 1
