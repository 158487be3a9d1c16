"""The stats screen's read (whisperops.stats.read_stats) over 1,000,000 step runs.

Run: .venv/bin/python -m bench.stats_screen [--rows 1000000] [--postgres URL]

Fills a scratch SQLite database (and, with --postgres, a scratch database
``whisperops_bench_stats`` created on that server and dropped afterwards) with
30 days of history: one recording per six step runs (~167k for 1M rows), 2% of
them failed with messages of a few kinds, durations spread log-normally per step.
Then times read_stats for each window (median of --repeat runs after one warm-up)
and prints each in ms against the target of 500 ms.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from peewee import Database, PostgresqlDatabase

from whisperops.clock import utcnow
from whisperops.db import bind_database, database_proxy
from whisperops.migrations import migrate
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun, step_closed
from whisperops.stats import Window, read_stats

TARGET_MS = 500
HISTORY = timedelta(days=30)
MEDIAN_SECONDS = {
    Step.PARSE_METADATA: 0.005,
    Step.EXTRACT_METADATA: 0.08,
    Step.TRANSCRIBE: 240.0,
    Step.DIARIZATION: 30.0,
    Step.ANALYTICS: 0.4,
    Step.STORE_RESULTS: 0.2,
}
FAILURES = [
    "Step transcribe ({n} segments) failed: {name}: CUDA out of memory, tried {n} MiB",
    "Step extract_metadata failed: {name} is not readable audio: /archive/{name} 'moov' missing",
    "Stuck in step transcribe ({n} segments); last update {n}m ago (cleanup)",
    "Failed by operator in step diarization ({n} segments): wrong channel layout",
]


def _insert(model, rows: list[dict]) -> None:
    with database_proxy.atomic():
        model.insert_many(rows).execute()


def fill(rows: int, now: datetime, seed: int = 7) -> int:
    """``rows`` step runs over HISTORY before ``now``; returns the recordings made."""
    rng = random.Random(seed)
    steps = list(Step)
    count = max(1, rows // len(steps))
    recordings, runs = [], []
    for index in range(count):
        finished = now - HISTORY * (1 - (index + 1) / count)
        failed = index % 50 == 0
        name = f"call-{index:08d}.wav"
        recordings.append(
            {
                "id": index + 1,
                "file_path": f"/archive/{name}",
                "file_name": name,
                "sha256": f"{index:064x}",
                "size_bytes": 1000,
                "status": (Status.FAILED if failed else Status.DONE).value,
                "attempt": 1,
                "error_message": FAILURES[index % len(FAILURES)].format(
                    name=name, n=rng.randint(1, 400)
                )
                if failed
                else None,
                "created_at": finished - timedelta(hours=1),
                "updated_at": finished,
                "processed_at": None if failed else finished,
            }
        )
        moment = finished
        for step in reversed(steps):
            seconds = rng.lognormvariate(0, 0.6) * MEDIAN_SECONDS[step]
            started = moment - timedelta(seconds=seconds)
            runs.append(
                {
                    "recording": index + 1,
                    "attempt": 1,
                    "step": step.value,
                    "started_at": started,
                    "outcome": StepOutcome.OK.value,
                    **step_closed(started, moment),
                }
            )
            moment = started
        if len(runs) >= 6000:
            _insert(Recording, recordings)
            _insert(StepRun, runs)
            recordings, runs = [], []
    if recordings:
        _insert(Recording, recordings)
        _insert(StepRun, runs)
    return count


def measure(repeat: int, now: datetime) -> dict[Window, float]:
    timings = {}
    for window in Window:
        read_stats(window, now)  # warm-up: the page cache, not the result
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            read_stats(window, now)
            seconds.append(time.perf_counter() - started)
        timings[window] = statistics.median(seconds)
    return timings


def run(database: Database, label: str, rows: int, repeat: int) -> None:
    migrate(database, log=lambda _line: None)
    now = utcnow()
    started = time.perf_counter()
    recordings = fill(rows, now)
    filled = time.perf_counter() - started
    if isinstance(database, PostgresqlDatabase):
        # What autovacuum does to a live database soon after such a load: planner
        # statistics, and the visibility map that index-only scans need.
        database.execute_sql("VACUUM ANALYZE")
    stepruns = StepRun.select().count()
    print(f"{label}: {stepruns:,} step runs, {recordings:,} recordings (filled in {filled:.0f} s)")
    for window, seconds in measure(repeat, now).items():
        verdict = "ok" if seconds * 1000 <= TARGET_MS else "OVER"
        print(
            f"  read_stats({window.value:>3}): median {seconds * 1000:7.1f} ms "
            f"(target <= {TARGET_MS} ms, {verdict})"
        )
    database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also on this PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432/postgres",
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    try:
        run(bind_database(f"sqlite:///{folder / 'w.db'}"), "SQLite", options.rows, options.repeat)
    finally:
        shutil.rmtree(folder)
    if options.postgres:
        server = bind_database(options.postgres)
        assert isinstance(server, PostgresqlDatabase), "--postgres takes a postgresql:// URL"
        scratch = "whisperops_bench_stats"
        server.execute_sql(f"DROP DATABASE IF EXISTS {scratch}")
        server.execute_sql(f"CREATE DATABASE {scratch}")
        server.close()
        base = options.postgres.rsplit("/", 1)[0]
        try:
            run(bind_database(f"{base}/{scratch}"), "PostgreSQL", options.rows, options.repeat)
        finally:
            server = bind_database(options.postgres)
            server.execute_sql(f"DROP DATABASE IF EXISTS {scratch}")
            server.close()


if __name__ == "__main__":
    main()
