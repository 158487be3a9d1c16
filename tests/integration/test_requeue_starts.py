"""An operator's requeue or re-diarize starts the job at once, with the attempt it printed.

No sweep runs in these tests: a burst worker started right after the command must
find the job on the queue.
"""

from __future__ import annotations

import re
from pathlib import Path

from redis import Redis

from tests.integration.cli_runner import run_cli
from tests.integration.pipeline_helpers import ingest, process, run_burst
from whisperops import ops
from whisperops.config import Settings
from whisperops.jobs.enqueue import transcribe_queue
from whisperops.jobs.names import job_id
from whisperops.models import Recording, Status, Step, StepRun


def _printed_attempt(stdout: str) -> int:
    match = re.search(r"\(attempt (\d+)\)", stdout)
    assert match, stdout
    return int(match.group(1))


def _runs(recording_id: int) -> list[StepRun]:
    return list(StepRun.select().where(StepRun.recording == recording_id).order_by(StepRun.id))


def test_cli_requeue_starts_the_job_with_the_printed_attempt(
    environ: dict[str, str], pipeline_settings: Settings, redis: Redis, speech_wav: Path
) -> None:
    recording = ingest(pipeline_settings, speech_wav)
    ops.fail(recording.id, "wrong customer")
    env = {**environ, "REDIS_URL": pipeline_settings.redis_url.get_secret_value()}

    result = run_cli(env, "requeue", str(recording.id))

    assert result.returncode == 0, result.stderr
    attempt = _printed_attempt(result.stdout)
    assert f"started as job {job_id(recording.id, attempt)}" in result.stdout
    assert transcribe_queue(redis).job_ids == [job_id(recording.id, attempt)]
    run_burst(pipeline_settings)
    row = Recording.get_by_id(recording.id)
    assert row.status is Status.DONE and row.attempt == attempt
    assert [(run.step, run.attempt) for run in _runs(recording.id)] == [
        (step.value, attempt) for step in Step
    ]


def test_cli_rediarize_starts_at_the_diarization_step(
    environ: dict[str, str], pipeline_settings: Settings, redis: Redis, speech_wav: Path
) -> None:
    done = process(pipeline_settings, speech_wav)
    assert done.status is Status.DONE
    env = {**environ, "REDIS_URL": pipeline_settings.redis_url.get_secret_value()}

    result = run_cli(env, "rediarize", str(done.id))

    assert result.returncode == 0, result.stderr
    queued = Recording.get_by_id(done.id)
    assert queued.attempt == done.attempt + 1
    assert f"started as job {job_id(done.id, queued.attempt)}" in result.stdout
    run_burst(pipeline_settings)
    row = Recording.get_by_id(done.id)
    assert row.status is Status.DONE and row.attempt == queued.attempt
    resumed = [run.step for run in _runs(done.id) if run.attempt == queued.attempt]
    assert resumed == [Step.DIARIZATION, Step.ANALYTICS, Step.STORE_RESULTS]


def test_requeue_with_redis_down_leaves_it_to_the_next_sweep(
    environ: dict[str, str], pipeline_settings: Settings, redis: Redis, speech_wav: Path
) -> None:
    recording = ingest(pipeline_settings, speech_wav)
    ops.fail(recording.id, "wrong customer")
    down = {**environ, "REDIS_URL": "redis://127.0.0.1:1/0"}

    result = run_cli(down, "requeue", str(recording.id))

    assert result.returncode == 0, result.stderr
    assert "not started (" in result.stdout
    assert result.stdout.rstrip().endswith("the next sweep enqueues it")
    assert Recording.get_by_id(recording.id).status is Status.QUEUED
    # What the sweep does next: enqueue it, and a worker runs it.
    enqueued = run_cli(
        {**environ, "REDIS_URL": pipeline_settings.redis_url.get_secret_value()}, "enqueue"
    )
    assert enqueued.returncode == 0 and f"(#{recording.id})" in enqueued.stdout
    run_burst(pipeline_settings)
    assert Recording.get_by_id(recording.id).status is Status.DONE


async def test_console_requeue_starts_the_job_a_burst_worker_runs(
    pipeline_settings: Settings, redis: Redis, speech_wav: Path
) -> None:
    from tests.console.test_console import select, wait_for
    from whisperops.console.app import build_app
    from whisperops.console.screens.dialogs import ConfirmScreen

    recording = ingest(pipeline_settings, speech_wav)
    ops.fail(recording.id, "wrong customer")
    app = build_app(pipeline_settings, refresh_sec=60)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.query_one("DataTable").row_count == 1)
        await select(pilot, app, recording.id)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(
            pilot, lambda: any("started as job" in n.message for n in app._notifications)
        )
    attempt = Recording.get_by_id(recording.id).attempt
    assert transcribe_queue(redis).job_ids == [job_id(recording.id, attempt)]
    run_burst(pipeline_settings)
    row = Recording.get_by_id(recording.id)
    assert row.status is Status.DONE and row.attempt == attempt
