"""A worker SIGKILLed in the middle of a transcription, three times: nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.pipeline_helpers import ingest
from tests.reliability.conftest import ON_SQLITE
from tests.reliability.harness import SweepLoop, Workers, current, wait_until, worker_env
from whisperops.config import Settings
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun, Transcript

CRASH_POINTS: list[tuple[str, Callable[[Recording], bool]]] = [
    ("transcribe just started", lambda r: r.processing_step == "transcribe"),
    ("5 segments in", lambda r: (r.processing_segments_count or 0) >= 5),
    ("past 60% estimated", lambda r: (r.progress_ratio or 0) >= 0.6 and r.progress_ratio < 1),
]


@ON_SQLITE
def test_sigkill_mid_transcription_three_times_then_one_done(
    rel_settings: Settings, three_minute_speech: Path, tmp_path: Path
) -> None:
    recording = ingest(rel_settings, three_minute_speech)
    workers = Workers(
        worker_env(rel_settings, stuck_processing_threshold_sec=3, max_retries=5), tmp_path / "logs"
    )
    sweep = SweepLoop(rel_settings, interval=1.0)
    sweep.start()
    killed_at = []
    try:
        for index, (point, reached) in enumerate(CRASH_POINTS):
            name = f"doomed-{index}"
            workers.start(name)
            wait_until(lambda done=reached: done(current(recording.id)), 120, point, every=0.05)
            workers.kill(name)  # SIGKILL: no cleanup, no release, the row stays PROCESSING
            row = current(recording.id)
            killed_at.append((point, row.attempt, row.processing_segments_count))
            assert row.status is Status.PROCESSING
            # The sweep sees the heartbeat stop, requeues and enqueues a new attempt.
            wait_until(
                lambda a=row.attempt: (
                    current(recording.id).attempt > a
                    and current(recording.id).status is Status.QUEUED
                ),
                60,
                f"the sweep to requeue after the kill at '{point}'",
            )
        workers.start("survivor")
        wait_until(lambda: current(recording.id).status is Status.DONE, 300, "DONE")
    finally:
        workers.stop_all()
        sweep.stop()
    print(f"killed at {killed_at}; sweeps {sweep.sweeps}, sweep errors {sweep.errors}")

    row = current(recording.id)
    assert row.retry_count == 3 and row.error_message is None
    assert Transcript.select().where(Transcript.recording == recording.id).count() == 1
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
