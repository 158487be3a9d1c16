"""A worker SIGKILLed in every step, and in a re-diarization: each recording ends DONE
once, with one transcript, one set of output files and the lost attempt in its history.

The worker kills itself at the chosen point (tests/reliability/crashing_worker.py):
the short steps last milliseconds, too little to aim an outside SIGKILL at.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from scripts.stereo_calls import CALL_SCRIPT, StereoCall, build_espeak_call
from tests.conftest import ON_POSTGRESQL, ON_SQLITE
from tests.integration.cli_runner import run_cli
from tests.integration.pipeline_helpers import ingest
from tests.reliability import crashing_worker
from tests.reliability.harness import (
    SweepLoop,
    Workers,
    current,
    recover_with_survivor,
    transcripts,
    wait_until,
    worker_env,
)
from whisperops.config import Settings
from whisperops.models import Status, Step, StepOutcome, StepRun, Transcript
from whisperops.outputs import output_paths
from whisperops.runtime import init_runtime

REDIARIZE = "diarization, resuming a re-diarization"

# What the test calls each crash point: the launcher's --at, and the step it is in.
POINTS = {
    "extract_metadata": ("extract_metadata", Step.EXTRACT_METADATA),
    "transcribe": ("transcribe", Step.TRANSCRIBE),
    "diarization": ("diarization", Step.DIARIZATION),
    "store_results, first file in place": (crashing_worker.FIRST_FILE, Step.STORE_RESULTS),
    "store_results, second file before its rename": (
        crashing_worker.BEFORE_RENAME,
        Step.STORE_RESULTS,
    ),
    REDIARIZE: ("diarization", Step.DIARIZATION),
}


@pytest.fixture(scope="module")
def short_call(tmp_path_factory: pytest.TempPathFactory) -> StereoCall:
    """A two-party call of about 20 s, one party per channel: the channel backend
    really diarizes it, and each crash costs little time."""
    return build_espeak_call(
        tmp_path_factory.mktemp("calls") / "call-0042.wav", script=CALL_SCRIPT[:4]
    )


def crash_and_recover(
    settings: Settings, call: StereoCall, point: str, tmp_path: Path
) -> tuple[int, int, float, Workers]:
    """Run the recording into the crash, then let the sweep and a fresh worker finish it.

    Returns the recording id, the attempt that was killed, the seconds from the kill
    to DONE, and the workers (stopped).
    """
    crash_at, step = POINTS[point]
    rediarize = point == REDIARIZE
    env = worker_env(settings, stuck_processing_threshold_sec=3, diarization_backend="channel")
    workers = Workers(env, tmp_path / "logs")
    marker = tmp_path / "crashed"
    launcher = (sys.executable, "-m", "tests.reliability.crashing_worker", "--at", crash_at)
    launcher += ("--marker", str(marker), *(("--resuming",) if rediarize else ()), "--")
    recording = ingest(settings, call.path)
    sweep = SweepLoop(settings, interval=1.0)
    sweep.start()
    try:
        doomed = workers.start("doomed", prefix=launcher)
        if rediarize:  # done once in full, then re-diarized as an operator does it
            wait_until(lambda: current(recording.id).status is Status.DONE, 120, "first DONE")
            queued = run_cli(env, "rediarize", str(recording.id))
            assert queued.returncode == 0, queued.stderr
        try:
            wait_until(lambda: doomed.poll() is not None, 120, f"the worker to die at {point}")
        except AssertionError as exc:
            row = current(recording.id)
            state = f"{row.status.value} at {row.processing_step}, attempt {row.attempt}"
            raise AssertionError(f"{exc} ({state})\n{workers.logs()[-4000:]}") from None
        killed = time.monotonic()
        assert doomed.returncode == -9 and marker.exists(), workers.logs()[-3000:]
        row = current(recording.id)
        assert row.status is Status.PROCESSING and row.processing_step == step.value
        recovered_sec = recover_with_survivor(workers, recording.id, killed, timeout=120)
    finally:
        workers.stop_all()
        sweep.stop()
    return recording.id, row.attempt, recovered_sec, workers


def check_done_once(
    settings: Settings, recording_id: int, killed_attempt: int, point: str, logs: str
) -> None:
    _, step = POINTS[point]
    row = current(recording_id)
    assert row.retry_count == 1 and row.error_message is None, row.error_message
    assert transcripts(recording_id) == 1
    speakers = {segment.speaker for segment in Transcript.get(recording=recording_id).segments}
    assert speakers == {"left", "right"}, speakers  # the channel backend ran

    # One set of outputs, nothing else: no temp file (".<name>.<random>.tmp") is left.
    expected = sorted(path.name for path in output_paths(settings.output_dir, row).values())
    assert sorted(path.name for path in settings.output_dir.iterdir()) == expected
    json_text = output_paths(settings.output_dir, row)["json"].read_text()
    assert '"speaker": "left"' in json_text

    history = list(StepRun.select().where(StepRun.recording == recording_id).order_by(StepRun.id))
    abandoned = [run for run in history if run.attempt == killed_attempt]
    assert abandoned[-1].step == step.value
    assert abandoned[-1].outcome is StepOutcome.FAILED
    assert abandoned[-1].detail.startswith("abandoned: no update for "), abandoned[-1].detail
    assert all(run.outcome is StepOutcome.OK for run in abandoned[:-1])
    final = [run for run in history if run.attempt == row.attempt]
    # The re-diarization's recovery resumes at diarization too, over the kept transcript.
    steps = list(Step)[list(Step).index(Step.DIARIZATION) :] if point == REDIARIZE else list(Step)
    assert [run.step for run in final] == [s.value for s in steps]
    assert all(run.outcome in (StepOutcome.OK, StepOutcome.SKIPPED) for run in final)
    stored = [run for run in history if run.step == "store_results" and run.outcome.value == "ok"]
    assert len(stored) == (2 if point == REDIARIZE else 1)
    if point == REDIARIZE:  # it kept the transcript: transcribed once, by the first attempt
        assert [run.attempt for run in history if run.step == "transcribe"] == [history[0].attempt]
    assert "Traceback" not in logs


def figure(point: str, database: str, recording_id: int, recovered_sec: float) -> str:
    done = current(recording_id).status is Status.DONE
    return (
        f"crash in {point} ({database}): recordings 1, lost {0 if done else 1}, "
        f"duplicated {max(0, transcripts(recording_id) - 1)}, recovered in {recovered_sec:.1f}s"
    )


@ON_SQLITE
@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_in_each_step_then_done_once(
    rel_settings: Settings, short_call: StereoCall, point: str, tmp_path: Path
) -> None:
    settings = rel_settings.replace(diarization_backend="channel")
    init_runtime(settings)
    recording_id, attempt, took, workers = crash_and_recover(settings, short_call, point, tmp_path)
    print(figure(point, "sqlite", recording_id, took))
    check_done_once(settings, recording_id, attempt, point, workers.logs())


@ON_POSTGRESQL
def test_sigkill_in_store_results_then_done_once_on_postgresql(
    rel_settings: Settings, short_call: StereoCall, tmp_path: Path
) -> None:
    point = "store_results, second file before its rename"
    settings = rel_settings.replace(diarization_backend="channel")
    init_runtime(settings)
    recording_id, attempt, took, workers = crash_and_recover(settings, short_call, point, tmp_path)
    print(figure(point, "postgresql", recording_id, took))
    check_done_once(settings, recording_id, attempt, point, workers.logs())
