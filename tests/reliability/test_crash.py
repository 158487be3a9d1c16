"""A worker SIGKILLed in the middle of a transcription, three times: nothing lost.

The sweep runs as in production: `whisperops scheduler` enqueues it every 2 s and
`whisperops worker --maintenance` runs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ON_SQLITE
from tests.integration.pipeline_helpers import ingest
from tests.reliability.harness import (
    SweepProcesses,
    Valkey,
    Workers,
    current,
    transcripts,
    wait_until,
    worker_env,
)
from whisperops.config import Settings
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun
from whisperops.runtime import init_runtime

CRASH_POINTS: list[tuple[str, Callable[[Recording], bool]]] = [
    ("transcribe just started", lambda r: r.processing_step == "transcribe"),
    ("5 segments in", lambda r: (r.processing_segments_count or 0) >= 5),
    ("past 60% estimated", lambda r: (r.progress_ratio or 0) >= 0.6 and r.progress_ratio < 1),
]


# Its own deadlines add up to 14 minutes (3 x (120 + 60) s, then 300 s).
@pytest.mark.timeout(900)
@ON_SQLITE
def test_sigkill_mid_transcription_three_times_then_one_done(
    rel_settings: Settings, own_valkey: Valkey, three_minute_speech: Path, tmp_path: Path
) -> None:
    settings = rel_settings.replace(redis_url=own_valkey.url)
    init_runtime(settings)
    recording = ingest(settings, three_minute_speech)
    env = worker_env(settings, stuck_processing_threshold_sec=3, max_retries=5)
    workers = Workers(env, tmp_path / "logs")
    sweep = SweepProcesses(env, tmp_path / "sweep-logs", interval=2)
    killed_at = []
    recovered_sec = []
    try:
        sweep.start()
        start = time.time()
        for index, (point, reached) in enumerate(CRASH_POINTS):
            name = f"doomed-{index}"
            workers.start(name)
            wait_until(lambda done=reached: done(current(recording.id)), 120, point, every=0.05)
            workers.kill(name)  # SIGKILL: no cleanup, no release, the row stays PROCESSING
            killed = time.monotonic()
            row = current(recording.id)
            killed_at.append((point, row.attempt, row.processing_segments_count))
            assert row.status is Status.PROCESSING
            # The scheduled sweep sees the heartbeat stop, requeues and enqueues a new attempt.
            wait_until(
                lambda a=row.attempt: (
                    current(recording.id).attempt > a
                    and current(recording.id).status is Status.QUEUED
                ),
                60,
                f"the sweep to requeue after the kill at '{point}'",
            )
            recovered_sec.append(round(time.monotonic() - killed, 1))
        workers.start("survivor")
        wait_until(lambda: current(recording.id).status is Status.DONE, 300, "DONE")
        end = time.time()
        assert sweep.alive() == [SweepProcesses.MAINTENANCE, "scheduler-1"]
    finally:
        workers.stop_all()
        sweep.stop_all()
    ran = sweep.assert_once_per_interval(start, end)
    print(
        f"crash: 1 recording, 0 lost, 0 duplicated; killed at {killed_at}; requeued by the "
        f"scheduled sweep {recovered_sec}s after each kill; {len(ran)} sweeps ran, "
        f"{len(sweep.sweeps_skipped())} skipped in {end - start:.0f}s"
    )
    maintenance = sweep.log(SweepProcesses.MAINTENANCE)
    assert maintenance.count(f"Requeued stuck recording id={recording.id} ") == len(CRASH_POINTS)

    row = current(recording.id)
    assert row.retry_count == 3 and row.error_message is None
    assert transcripts(recording.id) == 1
    history = list(StepRun.select().where(StepRun.recording == recording.id).order_by(StepRun.id))
    abandoned = [run for run in history if run.step == "transcribe" and run.attempt != row.attempt]
    assert [run.attempt for run in abandoned] == [attempt for _, attempt, _ in killed_at]
    for run in abandoned:
        assert run.outcome is StepOutcome.FAILED
        assert run.detail.startswith("abandoned: no update for ")
    final = [run for run in history if run.attempt == row.attempt]
    assert [run.step for run in final] == list(Step)
    assert all(run.outcome in (StepOutcome.OK, StepOutcome.SKIPPED) for run in final)
    assert "Traceback" not in (tmp_path / "logs" / "survivor.log").read_text()
