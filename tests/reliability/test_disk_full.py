"""The output folder fills up, or stops being writable, under a running worker: the
recording fails in store_results saying so, nothing half-written is left, the
worker goes on, and a requeue once it is fixed ends DONE."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import ON_SQLITE
from tests.integration.cli_runner import run_cli
from tests.integration.pipeline_helpers import ingest
from tests.mounts import fill, small_tmpfs
from tests.privileges import without_read_override
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
from whisperops.models import Recording, Status, StepOutcome, StepRun, Transcript
from whisperops.outputs import output_paths
from whisperops.runtime import init_runtime


def settled(recording_id: int) -> bool:
    return current(recording_id).status in (Status.DONE, Status.FAILED)


def outputs(settings: Settings, recording: Recording) -> list[str]:
    return sorted(path.name for path in output_paths(settings.output_dir, recording).values())


def files_in(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden ones too (a temp file is ``.NAME.RANDOM.tmp``)."""
    return sorted(path.name for path in folder.iterdir())


def failed_store_results(settings: Settings, recording_id: int, cause: str) -> str:
    """The recording's error_message, checked: store_results failed for ``cause``,
    naming one of its output files, as the step history says too."""
    row = current(recording_id)
    assert row.status is Status.FAILED
    message = row.error_message
    assert message.startswith(f"Step store_results failed: {cause} writing "), message
    assert any(str(path) in message for path in output_paths(settings.output_dir, row).values())
    step = StepRun.get((StepRun.recording == recording_id) & (StepRun.step == "store_results"))
    assert step.outcome is StepOutcome.FAILED and message.endswith(step.detail), step.detail
    assert transcripts(recording_id) == 0
    return message


def requeue(env: dict[str, str], recording_id: int) -> None:
    """`whisperops requeue ID`, as an operator does it once the folder is fixed."""
    result = run_cli(env, "requeue", str(recording_id))
    assert result.returncode == 0, result.stderr
    wait_until(lambda: settled(recording_id), 120, "the requeued recording to settle")
    assert current(recording_id).status is Status.DONE, current(recording_id).error_message


@ON_SQLITE
def test_disk_full_fails_store_results_cleanly_and_the_worker_goes_on(
    rel_settings: Settings, speech_wav: Path, tmp_path: Path
) -> None:
    first_wav, second_wav = variants(speech_wav, tmp_path / "audio", 2)
    with small_tmpfs(tmp_path / "output", size="64k") as output_dir:
        settings = rel_settings.replace(output_dir=output_dir)
        init_runtime(settings)
        env = worker_env(settings, output_dir=output_dir)
        # Two pages free: the JSON and the SRT would fit, the rest not.
        fillers = fill(output_dir, leave_pages=2)
        workers = Workers(env, tmp_path / "logs")
        sweep = SweepLoop(settings, interval=1.0)
        sweep.start()
        try:
            worker = workers.start("w1")
            first = ingest(settings, first_wav)
            wait_until(lambda: settled(first.id), 120, "the first recording to settle")
            failed_at = time.monotonic()
            message = failed_store_results(settings, first.id, "No space left on device")
            # All or none: not the files that fitted, and no temp file.
            assert files_in(output_dir) == [path.name for path in fillers]
            assert worker.poll() is None

            for path in fillers:  # the operator frees space
                path.unlink()
            second = ingest(settings, second_wav)
            wait_until(lambda: settled(second.id), 120, "the second recording to settle")
            assert current(second.id).status is Status.DONE, current(second.id).error_message
            requeue(env, first.id)
            recovered_sec = time.monotonic() - failed_at
            assert worker.poll() is None  # the same worker did both
        finally:
            workers.stop_all()
            sweep.stop()
        print(
            f"disk full: recordings 2, failed clearly 1 ({message!r}), lost 0, duplicated 0; "
            f"next recording and requeue DONE {recovered_sec:.1f}s after the failure"
        )
        assert files_in(output_dir) == sorted(
            outputs(settings, current(first.id)) + outputs(settings, current(second.id))
        )
        assert Transcript.select().count() == 2
        assert "Traceback" not in workers.logs()  # the one line says it all
        assert current(first.id).retry_count == 0 and current(first.id).error_message is None


@ON_SQLITE
def test_unwritable_output_folder_fails_store_results_then_requeue_is_done(
    rel_settings: Settings, speech_wav: Path, tmp_path: Path
) -> None:
    output_dir = tmp_path / "output"
    settings = rel_settings.replace(output_dir=output_dir)
    init_runtime(settings)
    env = worker_env(settings, output_dir=output_dir)
    # As root the worker could write anyway: run it without CAP_DAC_OVERRIDE.
    prefix = without_read_override(tmp_path)
    workers = Workers(env, tmp_path / "logs")
    sweep = SweepLoop(settings, interval=1.0)
    sweep.start()
    try:
        worker = workers.start("w1", prefix=prefix)
        log = tmp_path / "logs" / "w1.log"
        wait_until(lambda: "listening on" in log.read_text(), 120, "the worker to start")
        output_dir.chmod(0o555)  # after its start-up check found the folder writable
        recording = ingest(settings, speech_wav)
        wait_until(lambda: settled(recording.id), 120, "the recording to settle")
        failed_at = time.monotonic()
        message = failed_store_results(settings, recording.id, "Permission denied")
        assert files_in(output_dir) == []
        assert worker.poll() is None
        output_dir.chmod(0o755)
        requeue(env, recording.id)
        recovered_sec = time.monotonic() - failed_at
    finally:
        output_dir.chmod(0o755)
        workers.stop_all()
        sweep.stop()
    print(
        f"unwritable output folder: recordings 1, failed clearly 1 ({message!r}), lost 0, "
        f"duplicated 0; requeue DONE {recovered_sec:.1f}s after the failure"
    )
    assert files_in(output_dir) == outputs(settings, current(recording.id))
    assert Transcript.select().count() == 1
    assert "Traceback" not in workers.logs()
