"""Workers on hosts whose clocks are 10 minutes off, against one PostgreSQL server.

The sweep compares ``updated_at`` with its own idea of now. Both come from the
database server's clock, so a worker whose clock runs behind is not swept while it
works, and one whose clock runs ahead is recovered as soon as it dies.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.conftest import ON_POSTGRESQL
from tests.integration.pipeline_helpers import ingest
from tests.reliability.harness import (
    SweepLoop,
    Workers,
    current,
    transcripts,
    variants,
    wait_until,
    worker_env,
)
from whisperops.config import Settings
from whisperops.models import Status, StepRun

TEN_MINUTES = 600


def skewed(offset_sec: int) -> tuple[str, ...]:
    """The command prefix that runs a worker with its clock ``offset_sec`` off."""
    return (sys.executable, "-m", "tests.reliability.skewed_clock", str(offset_sec), "--")


def abandoned_runs(recording_id: int) -> int:
    return (
        StepRun.select()
        .where((StepRun.recording == recording_id) & StepRun.detail.startswith("abandoned"))
        .count()
    )


@ON_POSTGRESQL
def test_worker_ten_minutes_behind_is_not_swept_and_one_ahead_is_recovered_on_time(
    rel_settings: Settings, long_speech_wav: Path, tmp_path: Path
) -> None:
    threshold = rel_settings.stuck_processing_threshold_sec
    workers = Workers(
        worker_env(rel_settings, stuck_processing_threshold_sec=threshold), tmp_path / "logs"
    )
    first, second = variants(long_speech_wav, tmp_path / "calls", 2)
    sweep = SweepLoop(rel_settings, interval=1.0)  # on this host's true clock
    sweep.start()
    try:
        # Behind: every write it makes would look 10 minutes old to the sweep.
        healthy = ingest(rel_settings, first)
        workers.start("behind", prefix=skewed(-TEN_MINUTES))
        wait_until(lambda: current(healthy.id).status is Status.DONE, 240, "DONE (behind)")
        workers.kill("behind")
        sweeps_while_healthy = sweep.sweeps

        # Ahead: its last write would look fresh for 10 minutes after it died.
        lost = ingest(rel_settings, second)
        workers.start("ahead", prefix=skewed(TEN_MINUTES))
        wait_until(lambda: current(lost.id).processing_step == "transcribe", 120, "transcribe")
        killed = current(lost.id)
        workers.kill("ahead")
        died_at = time.monotonic()
        wait_until(lambda: current(lost.id).attempt > killed.attempt, 60, "the sweep to recover it")
        recovered_after = time.monotonic() - died_at
        workers.start("on-time")
        wait_until(lambda: current(lost.id).status is Status.DONE, 240, "DONE (recovered)")
    finally:
        workers.stop_all()
        sweep.stop()
    print(
        f"skewed clocks: behind -10m: DONE, {sweeps_while_healthy} sweeps, 0 swept; "
        f"ahead +10m killed: recovered after {recovered_after:.1f}s "
        f"(threshold {threshold}s, sweep every 1s); sweep errors {sweep.errors}"
    )
    row = current(healthy.id)
    assert (row.retry_count, abandoned_runs(healthy.id)) == (0, 0), "a healthy worker was swept"
    assert sweeps_while_healthy > threshold  # the sweep had every chance to misjudge it
    assert recovered_after < threshold + 10
    assert current(lost.id).retry_count == 1 and abandoned_runs(lost.id) == 1
    for recording in (healthy, lost):
        assert transcripts(recording.id) == 1
