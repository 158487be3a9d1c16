"""PostgreSQL itself stopped and started again (a server of the test's own, for real)
while a worker transcribes, the scheduler sweeps, the exporter serves and the console
watches.

The recording finishes once, at the same attempt, without a retry. The scheduled
sweeps skip the outage with one line when it starts and one when it ends, then keep
their interval. The exporter's up-gauge and the console's banner show the outage and
clear once the server is back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import free_port
from tests.console.test_console import cell, wait_for
from tests.integration.pipeline_helpers import ingest
from tests.integration.test_metrics import samples
from tests.reliability.harness import (
    SweepProcesses,
    Valkey,
    Workers,
    current,
    scrape,
    transcripts,
    wait_until,
    worker_env,
)
from tests.reliability.postgres_server import PostgresServer
from whisperops.config import Settings
from whisperops.console.app import build_app
from whisperops.db import database_proxy
from whisperops.models import Status
from whisperops.runtime import init_runtime

DOWN_SEC = 8  # four sweep intervals
UP = ("whisperops_database_up", ())


@pytest.fixture
def database_url(private_postgres: PostgresServer) -> str:
    """This module's database is on the server it stops (overrides the conftest's)."""
    return private_postgres.url


def database_up(port: int) -> float:
    return samples(scrape(f"http://127.0.0.1:{port}/metrics"))[UP]


# Its own deadlines add up to about 13 minutes.
@pytest.mark.timeout(900)
@pytest.mark.postgres
async def test_postgresql_restarted_mid_transcription_and_between_sweeps(
    rel_settings: Settings,
    private_postgres: PostgresServer,
    own_valkey: Valkey,
    real_interview: Path,
    tmp_path: Path,
) -> None:
    settings = rel_settings.replace(redis_url=own_valkey.url)
    init_runtime(settings)
    recording = ingest(settings, real_interview)
    env = worker_env(settings)
    workers = Workers(env, tmp_path / "logs")
    sweep = SweepProcesses(env, tmp_path / "sweep-logs", interval=2)
    port = free_port()
    app = build_app(settings, refresh_sec=0.5)
    async with app.run_test(size=(160, 40)) as pilot:
        banner = app.query_one("#banner", Static)
        try:
            await asyncio.to_thread(sweep.start)
            workers.start_command("exporter", "exporter", "--port", str(port))
            await asyncio.to_thread(database_up, port)  # serving before the outage
            start = time.time()
            workers.start("w1")
            await asyncio.to_thread(
                wait_until,
                lambda: (current(recording.id).processing_segments_count or 0) >= 1,
                180,
                "the first segment",
            )
            claimed = current(recording.id).attempt
            database_proxy.close()
            down_at = time.time()
            await asyncio.to_thread(private_postgres.stop)

            # While it is down: the exporter and the console say so.
            await asyncio.to_thread(
                wait_until, lambda: database_up(port) == 0, 20, "the exporter's up-gauge at 0"
            )
            await wait_for(pilot, lambda: banner.display, 20)
            shown = str(banner.render())
            await asyncio.sleep(max(0.0, down_at + DOWN_SEC - time.time()))
            await asyncio.to_thread(private_postgres.start)
            up_at = time.time()  # accepting connections

            await asyncio.to_thread(
                wait_until, lambda: current(recording.id).status is Status.DONE, 240, "DONE"
            )
            resumed = await asyncio.to_thread(
                sweep.wait_for_sweep, up_at, 30, "a sweep after the restart"
            )
            await asyncio.to_thread(
                wait_until, lambda: database_up(port) == 1, 20, "the exporter's up-gauge at 1"
            )
            await wait_for(pilot, lambda: not banner.display, 20)
            await wait_for(pilot, lambda: cell(app, recording.id, "status") == "done", 20)
            end = time.time()
            assert workers.alive() == ["exporter", "w1"], "a process died with the database"
            assert sweep.alive() == [SweepProcesses.MAINTENANCE, "scheduler-1"]
        finally:
            workers.stop_all()
            sweep.stop_all()

    ran = sweep.assert_once_per_interval(start, end, faults=[(down_at, resumed)])
    print(
        f"postgresql restart: down {up_at - down_at:.1f}s mid-transcription; 1 recording "
        f"DONE, retries 0, lost 0, duplicated 0; first sweep {resumed - up_at:.1f}s after "
        f"the start; {len(ran)} sweeps ran in {end - start:.0f}s"
    )
    assert shown.startswith("Database unreachable:") and "retrying every 0.5s" in shown
    assert resumed - up_at <= sweep.longest_gap_sec
    row = current(recording.id)
    assert row.retry_count == 0 and row.attempt == claimed and row.error_message is None
    assert transcripts(recording.id) == 1

    worker_log, maintenance = workers.log("w1"), sweep.log(SweepProcesses.MAINTENANCE)
    assert "the database unreachable (" in worker_log
    assert "the database reachable again after" in worker_log
    # One line each way, however many sweeps the outage skipped.
    assert maintenance.count("Sweep: the database unreachable (") == 1, maintenance[-3000:]
    assert maintenance.count("Sweep: the database reachable again after") == 1
    for log in (worker_log, maintenance, workers.log("exporter")):
        assert "Traceback" not in log, log[-3000:]
        # One line per event: libpq's second lines ("This probably means the server
        # terminated abnormally", "Is the server running on that host...") left out.
        assert "This probably means" not in log and "Is the server running" not in log
