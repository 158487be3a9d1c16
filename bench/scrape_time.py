"""Exporter scrape time with 1,000,000 recordings, 200 of them processing.

Run: .venv/bin/python -m bench.scrape_time [--total 1000000] [--backend sqlite|postgresql|both]

Fills a scratch database (done/failed rows, 200 processing, one finished
step-history row per recording), then times full scrapes (collect + text
exposition) through the same registry the exporter serves. Printed: median of
30 scrapes, target <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from prometheus_client import generate_latest
from redis import Redis

from bench.sweep_scaling import for_each_backend, insert, rows
from whisperops.clock import utcnow
from whisperops.config import load_settings
from whisperops.db import database_proxy
from whisperops.migrations import migrate
from whisperops.models import Status, StepRun
from whisperops.monitoring.exporter import build_registry
from whisperops.runtime import init_runtime

PROCESSING = 200


def run(backend: str, database_url: str, total: int, scrapes: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-scrape-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    Redis.from_url(redis_url).flushdb()
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": str(folder),
            "HOME": str(folder),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    settings = settings.replace()
    init_runtime(settings)
    database = database_proxy.obj
    migrate(database, log=lambda _line: None)
    now = utcnow()
    started = time.perf_counter()
    insert(rows(0, PROCESSING, Status.PROCESSING, now))
    for offset in range(PROCESSING, total, 100_000):
        count = min(100_000, total - offset)
        insert(rows(offset, count, Status.DONE if offset % 200_000 else Status.FAILED, now))
    history = [
        {
            "recording": i + 1,
            "attempt": 1,
            "step": "transcribe",
            "outcome": "ok",
            "started_at": now - timedelta(days=1, seconds=60),
            "finished_at": now - timedelta(days=1),
        }
        for i in range(total)
    ]
    for offset in range(0, total, 5000):
        with database_proxy.atomic():
            StepRun.insert_many(history[offset : offset + 5000]).execute()
    database.execute_sql("ANALYZE")
    filled = time.perf_counter() - started
    registry = build_registry(settings)
    generate_latest(registry)  # first scrape also reads the done/failed totals
    timings = []
    for _ in range(scrapes):
        started = time.perf_counter()
        text = generate_latest(registry)
        timings.append(time.perf_counter() - started)
    assert b"whisperops_processing_recordings 200.0" in text, "unexpected scrape content"
    print(
        f"{backend}: scrape median {statistics.median(timings) * 1000:.1f} ms, p90 "
        f"{sorted(timings)[int(len(timings) * 0.9)] * 1000:.1f} ms with {total:,} recordings "
        f"({PROCESSING} processing), target <= 100 ms; filled in {filled:.0f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--scrapes", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    options = parser.parse_args()
    for_each_backend(
        options.backend, lambda name, url: run(name, url, options.total, options.scrapes)
    )


if __name__ == "__main__":
    main()
