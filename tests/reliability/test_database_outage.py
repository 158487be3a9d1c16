"""PostgreSQL cuts every connection (pg_terminate_backend) while a worker transcribes
and the sweep runs: the job's writes wait for the database and the recording
finishes once, without a retry."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg2

from tests.conftest import ON_POSTGRESQL
from tests.integration.pipeline_helpers import ingest
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
from whisperops.models import Status, Step, StepOutcome, StepRun


def terminate_connections(url: str) -> int:
    """Kill every other session on the test's database, as a failover or an operator's
    pg_terminate_backend does; returns how many were cut."""
    with psycopg2.connect(url) as admin, admin.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@ON_POSTGRESQL
def test_connections_killed_mid_transcription_and_mid_sweep_lose_nothing(
    rel_settings: Settings, real_interview: Path, tmp_path: Path
) -> None:
    url = rel_settings.database_url.get_secret_value()
    recording = ingest(rel_settings, real_interview)
    workers = Workers(worker_env(rel_settings), tmp_path / "logs")
    sweep = SweepLoop(rel_settings, interval=0.5)
    sweep.start()
    cuts = []
    try:
        workers.start("w1")
        # At the first segment, then half-way by the progress estimate (tiny.en's
        # temperature fallback may decode espeak-ng speech into only a few segments), or
        # wherever the job is once transcription is over.
        for reached, what in (
            (lambda row: (row.processing_segments_count or 0) >= 1, "the first segment"),
            (
                lambda row: (
                    (row.progress_ratio or 0) >= 0.5 or row.processing_step != Step.TRANSCRIBE.value
                ),
                "half-way through transcription",
            ),
        ):
            wait_until(lambda r=reached: r(current(recording.id)), 180, what)
            database_proxy.close()  # the test's own connection is cut too
            cuts.append(terminate_connections(url))
        claimed = current(recording.id).attempt
        wait_until(lambda: current(recording.id).status is Status.DONE, 240, "DONE")
        assert workers.alive() == ["w1"], "the worker died with its connection"
    finally:
        workers.stop_all()
        sweep.stop()
    logs = workers.logs()
    print(
        f"database outage: {len(cuts)} cuts of {cuts} connections mid-transcription; "
        f"1 recording DONE, retries 0, lost 0, duplicated 0; sweeps {sweep.sweeps}, "
        f"sweeps cut off {len(sweep.errors)}"
    )
    row = current(recording.id)
    assert row.retry_count == 0 and row.attempt == claimed and row.error_message is None
    assert transcripts(recording.id) == 1
    runs = StepRun.select().where(StepRun.recording == recording.id)
    assert all(run.outcome in (StepOutcome.OK, StepOutcome.SKIPPED) for run in runs)
    assert "Traceback" not in logs
    assert re.search(r"the database unreachable \(.*\); retrying", logs, re.S), logs[-3000:]
    assert "the database reachable again after" in logs
    # The worker may be between writes at a cut (it then finds nothing to kill): the
    # log lines above prove its own connection was cut at least once.
    assert sweep.sweeps > 0 and sum(cuts) >= 1
