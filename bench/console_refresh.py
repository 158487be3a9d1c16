"""One console refresh and one `whisperops status` at 1,000,000 recordings.

Run: .venv/bin/python -m bench.console_refresh [--total 1000000]

Fills a scratch SQLite DB in a child process (so this process's memory is the
console's alone): ``--processing`` recordings in transcribe, 2% queued (the
backlog), 2% failed, the rest done with durations and, for the most recent 60,
their six step runs (the backlog's pace). Four transcribe workers are registered
in Redis, busy on four of the processing recordings, the way RQ registers them.
Then it runs the console headless at 160x48, triggers refreshes and times each
from the poll's start to the table being updated, and times the status report
(what `whisperops status` reads) in this process and the whole command in a
fresh one. Printed: medians (target <= 100 ms) and the console process's peak RSS
(target <= 150 MB). Default settings throughout. Redis: REDIS_URL (default db 12),
flushed first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

STEPS = (
    "parse_metadata",
    "extract_metadata",
    "transcribe",
    "diarization",
    "analytics",
    "store_results",
)
WORKERS = 4
RECENT_DONE_WITH_HISTORY = 60
OPTIONAL_COLUMNS = (
    "duration_sec",
    "processing_step",
    "processing_step_started_at",
    "processing_segments_count",
    "progress_ratio",
    "processed_at",
    "processing_started_at",
    "error_message",
)


def _status_of(i: int, processing: int) -> str:
    if i < processing:
        return "processing"
    if i % 50 == 0:
        return "failed"
    if i % 50 == 1:
        return "queued"
    return "done"


def fill(database_url: str, total: int, processing: int) -> None:
    from whisperops.clock import utcnow
    from whisperops.db import bind_database, database_proxy
    from whisperops.migrations import migrate
    from whisperops.models import Recording, StepRun

    migrate(bind_database(database_url), log=lambda _line: None)
    now = utcnow()
    batch = []
    for i in range(total):
        status = _status_of(i, processing)
        duration = 60.0 + (i * 37) % 540  # 1 to 10 minutes
        row = {
            "file_path": f"/archive/{i:08d}.wav",
            "file_name": f"call-{i:08d}.wav",
            "sha256": f"{i:064x}",
            "size_bytes": int(duration * 32000),  # 16 kHz 16-bit mono
            "status": status,
            "created_at": now - timedelta(seconds=total - i),
            "updated_at": now - timedelta(seconds=(total - i) % 3600),
            # insert_many takes its columns from the first row: every row names them all.
            **dict.fromkeys(OPTIONAL_COLUMNS),
            "attempt": 1 if status != "queued" else 0,
        }
        if status == "processing":
            row.update(
                duration_sec=duration,
                processing_step="transcribe",
                processing_step_started_at=now - timedelta(seconds=i % 300),
                processing_segments_count=i % 90,
                processing_started_at=now - timedelta(seconds=i % 300 + 5),
                progress_ratio=(i % 100) / 100,
                updated_at=now - timedelta(seconds=i % 20),
            )
        elif status == "done":
            row.update(
                duration_sec=duration,
                processed_at=row["updated_at"],
                processing_started_at=row["updated_at"] - timedelta(seconds=duration / 4),
            )
        elif status == "failed":
            row.update(error_message="Step transcribe failed: CUDA out of memory")
        batch.append(row)
        if len(batch) == 5000:
            with database_proxy.atomic():
                Recording.insert_many(batch).execute()
            batch = []
    if batch:
        with database_proxy.atomic():
            Recording.insert_many(batch).execute()
    # The pace the backlog is estimated at: the step runs of the most recent done ones.
    recent = (
        Recording.select()
        .where(Recording.status == "done")
        .order_by(Recording.updated_at.desc())
        .limit(RECENT_DONE_WITH_HISTORY)
    )
    with database_proxy.atomic():
        for recording in recent:
            started = recording.processing_started_at
            for step in STEPS:
                seconds = recording.duration_sec / 5 if step == "transcribe" else 1.0
                run = StepRun(
                    recording=recording,
                    attempt=1,
                    step=step,
                    started_at=started,
                    finished_at=started + timedelta(seconds=seconds),
                    outcome="ok",
                )
                run.save()
                started = run.finished_at


def register_workers(settings, redis) -> None:
    """Four transcribe workers busy on four processing recordings, as RQ registers them."""
    from tests.fleet import register_worker, running_job
    from whisperops.clock import utcnow
    from whisperops.jobs.names import TRANSCRIBE_QUEUE
    from whisperops.models import Recording, Status

    now = utcnow()
    busy = Recording.select().where(Recording.status == Status.PROCESSING).limit(WORKERS)
    for index, recording in enumerate(busy):
        register_worker(
            redis,
            f"bench-transcribe-{index}",
            TRANSCRIBE_QUEUE,
            host=f"farm-{index:02d}",
            pid=1000 + index,
            born=now - timedelta(hours=5),
            heartbeat=now - timedelta(seconds=3),
            job=running_job(redis, recording, settings, recording.attempt),
            done=100,
        )


def settings_for(database_url: str, redis_url: str, folder: str):
    from whisperops.config import load_settings

    return load_settings(environ=_environ(database_url, redis_url, folder))


def _environ(database_url: str, redis_url: str, folder: str) -> dict[str, str]:
    return {
        "WHISPEROPS_DATA_DIR": folder,
        "HOME": folder,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }


async def measure_console(settings, redis_url: str, refreshes: int) -> tuple[list, list]:
    from textual.widgets import DataTable

    from whisperops.clock import utcnow
    from whisperops.console.app import build_app
    from whisperops.console.snapshot import take_snapshot
    from whisperops.models import Recording, Status

    app = build_app(settings, refresh_sec=3600)  # Redis as the console connects to it
    timings, round_trips = [], []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.query_one(DataTable).row_count == 0:
            await pilot.pause(0.05)
        for index in range(refreshes):
            # Something changes between refreshes, as it does live: one segment count.
            Recording.update(
                processing_segments_count=Recording.processing_segments_count + 1,
                updated_at=utcnow(),
            ).where(
                (Recording.status == Status.PROCESSING) & (Recording.id == 1 + index % 200)
            ).execute()
            await pilot.pause(0.3)  # let ages move on, so the diff has real work
            started = time.perf_counter()
            snapshot = take_snapshot(settings, app.query_state, app.poll_redis, app.now)
            app.apply(snapshot)
            timings.append(time.perf_counter() - started)
            generation = app.generation + 1
            started = time.perf_counter()
            app.request_poll()
            while app.generation != generation or app.timer is None:
                await asyncio.sleep(0.001)
            round_trips.append(time.perf_counter() - started)
        assert snapshot.workers_online == WORKERS, snapshot.workers_online
        assert snapshot.backlog is not None and snapshot.backlog.eta_sec, snapshot.backlog
    return timings, round_trips


def measure_status(settings, redis_url: str, runs: int) -> tuple[list[float], str]:
    """The status report as `whisperops status` builds it, in this process."""
    from redis import Redis

    from whisperops.clock import utcnow
    from whisperops.db import database_proxy
    from whisperops.status_report import build_status_report

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with database_proxy.connection_context():
            report = build_status_report(
                settings, lambda: Redis.from_url(redis_url), utcnow(), explain=str
            )
        timings.append(time.perf_counter() - started)
    return timings, report.backlog.line


def measure_status_command(environ: dict[str, str], runs: int) -> list[float]:
    """The whole `whisperops status` command in a fresh process: interpreter start included."""
    command = [sys.executable, "-m", "whisperops", "status"]
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env={**os.environ, **environ}, check=True, capture_output=True)
        timings.append(time.perf_counter() - started)
    return timings


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--processing", type=int, default=200)
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument(
        "--database", help="measure this already filled database (a URL) instead of filling one"
    )
    parser.add_argument("--fill-only", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.fill_only:
        fill(options.fill_only, options.total, options.processing)
        return
    folder = tempfile.mkdtemp(prefix="bench-console-")
    database_url = options.database or f"sqlite:///{Path(folder) / 'w.db'}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
    if not options.database:
        started = time.perf_counter()
        subprocess.run(
            [
                *(sys.executable, "-m", "bench.console_refresh", "--fill-only", database_url),
                *("--total", str(options.total), "--processing", str(options.processing)),
            ],
            check=True,
        )
        print(f"filled {options.total:,} recordings in {time.perf_counter() - started:.0f} s")
    from redis import Redis

    from whisperops.db import bind_database

    settings = settings_for(database_url, redis_url, folder)
    bind_database(database_url)
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    register_workers(settings, redis)
    timings, round_trips = asyncio.run(measure_console(settings, redis_url, options.refreshes))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status_timings, backlog_line = measure_status(settings, redis_url, options.refreshes)
    command_timings = measure_status_command(_environ(database_url, redis_url, folder), 5)
    redis.flushdb()
    print(
        f"{options.total:,} recordings ({options.processing} processing, "
        f"{WORKERS} workers registered), default settings:\n"
        f"  console refresh: {ms(timings)}, p90 "
        f"{sorted(timings)[int(len(timings) * 0.9)] * 1000:.1f} ms (target <= 100 ms); "
        f"round trip through the app's worker and event loop {ms(round_trips)}; "
        f"peak RSS {peak_mb:.0f} MB (target <= 150 MB)\n"
        f"  whisperops status report: {ms(status_timings)} (target <= 100 ms); "
        f"the whole command in a fresh process {ms(command_timings)} "
        f"(interpreter and imports included)\n"
        f"  backlog line: {backlog_line}"
    )


if __name__ == "__main__":
    main()
