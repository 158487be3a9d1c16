"""One console refresh (query + keyed diff) with 100,000 recordings, 200 processing.

Run: .venv/bin/python -m bench.console_refresh [--total 100000]

Fills a scratch SQLite DB in a child process (so this process's memory is the
console's alone), runs the console headless at 160x48, triggers refreshes and
times each from the poll's start to the table being updated. Printed: the median
(target <= 100 ms) and the process's peak RSS (target <= 150 MB).
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


def fill(database_url: str, total: int, processing: int) -> None:
    from whisperops.clock import utcnow
    from whisperops.db import bind_database, database_proxy
    from whisperops.migrations import migrate
    from whisperops.models import Recording, Status

    migrate(bind_database(database_url), log=lambda _line: None)
    now = utcnow()
    batch = []
    for i in range(total):
        status = (
            Status.PROCESSING if i < processing else (Status.FAILED if i % 50 == 0 else Status.DONE)
        )
        batch.append(
            {
                "file_path": f"/archive/{i:08d}.wav",
                "file_name": f"call-{i:08d}.wav",
                "sha256": f"{i:064x}",
                "size_bytes": 1000,
                "status": status.value,
                "processing_step": "transcribe" if status is Status.PROCESSING else None,
                "processing_step_started_at": now - timedelta(seconds=i % 300)
                if status is Status.PROCESSING
                else None,
                "processing_segments_count": i % 90 if status is Status.PROCESSING else None,
                "progress_ratio": (i % 100) / 100 if status is Status.PROCESSING else None,
                "created_at": now - timedelta(seconds=total - i),
                "updated_at": now - timedelta(seconds=(total - i) % 3600),
            }
        )
        if len(batch) == 5000:
            with database_proxy.atomic():
                Recording.insert_many(batch).execute()
            batch = []
    if batch:
        with database_proxy.atomic():
            Recording.insert_many(batch).execute()


async def measure(database_url: str, refreshes: int) -> tuple[list[float], list[float]]:
    from redis import Redis
    from textual.widgets import DataTable

    from whisperops.clock import utcnow
    from whisperops.config import load_settings
    from whisperops.console.app import build_app
    from whisperops.console.snapshot import take_snapshot
    from whisperops.models import Recording, Status

    folder = tempfile.mkdtemp(prefix="bench-console-")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12")
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": folder,
            "HOME": folder,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    app = build_app(settings, refresh_sec=3600, redis_factory=lambda: Redis.from_url(redis_url))
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
            snapshot = take_snapshot(settings, app.query_state, app.redis_factory, app.now)
            app.apply(snapshot)
            timings.append(time.perf_counter() - started)
            generation = app.generation + 1
            started = time.perf_counter()
            app.request_poll()
            while app.generation != generation or app.timer is None:
                await asyncio.sleep(0.001)
            round_trips.append(time.perf_counter() - started)
    return timings, round_trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--processing", type=int, default=200)
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument("--fill-only", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.fill_only:
        fill(options.fill_only, options.total, options.processing)
        return
    database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-console-db-')) / 'w.db'}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.console_refresh",
            "--fill-only",
            database_url,
            "--total",
            str(options.total),
            "--processing",
            str(options.processing),
        ],
        check=True,
    )
    timings, round_trips = asyncio.run(measure(database_url, options.refreshes))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"console refresh with {options.total:,} recordings ({options.processing} processing): "
        f"median {statistics.median(timings) * 1000:.1f} ms, p90 "
        f"{sorted(timings)[int(len(timings) * 0.9)] * 1000:.1f} ms (target <= 100 ms); "
        f"round trip through the app's worker and event loop median "
        f"{statistics.median(round_trips) * 1000:.1f} ms; "
        f"peak RSS {peak_mb:.0f} MB (target <= 150 MB)"
    )


if __name__ == "__main__":
    main()
