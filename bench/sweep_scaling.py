"""Sweep cost against table size: it must follow active rows, not all rows.

Run: .venv/bin/python -m bench.sweep_scaling [--total 1000000] [--backend sqlite|postgresql|both]

For each backend: 1,000 active recordings (800 processing and recently updated,
200 queued with live jobs), timed over repeated sweeps (median); then 999,000
done/failed recordings are added and the same sweeps are timed again. Printed:
both medians and their ratio, target <= 2. PostgreSQL: WHISPEROPS_TEST_POSTGRES_URL
or postgresql://postgres@127.0.0.1:5432/test (a scratch database is created).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from redis import Redis

from whisperops.clock import utcnow
from whisperops.config import load_settings
from whisperops.db import database_proxy
from whisperops.jobs.enqueue import transcribe_queue
from whisperops.migrations import migrate
from whisperops.models import Recording, Status
from whisperops.runtime import init_runtime
from whisperops.sweep import enqueue_pending_recordings

ACTIVE_PROCESSING = 800
ACTIVE_QUEUED = 200
BATCH = 5000


def rows(start: int, count: int, status: Status, now) -> list[dict]:
    return [
        {
            "file_path": f"/archive/{i:08d}.wav",
            "file_name": f"{i:08d}.wav",
            "sha256": f"{i:064x}",
            "size_bytes": 1000 + i,
            "status": status.value,
            "created_at": now - timedelta(days=30),
            "updated_at": now - timedelta(seconds=30),
            "processing_step": "transcribe" if status is Status.PROCESSING else None,
        }
        for i in range(start, start + count)
    ]


def insert(batch_rows: list[dict]) -> None:
    for offset in range(0, len(batch_rows), BATCH):
        with database_proxy.atomic():
            Recording.insert_many(batch_rows[offset : offset + BATCH]).execute()


def time_sweeps(settings, redis: Redis, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        report = enqueue_pending_recordings(settings, redis)
        samples.append(time.perf_counter() - started)
        assert not report.requeued and not report.failed and not report.enqueue.enqueued
    return statistics.median(samples)


def run(backend: str, database_url: str, total: int, repeats: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    settings = load_settings(
        environ={
            "WHISPEROPS_DATA_DIR": str(folder),
            "HOME": str(folder),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
        }
    )
    settings = settings.replace(max_in_flight=100_000)
    init_runtime(settings)
    database = database_proxy.obj
    migrate(database, log=lambda _line: None)
    now = utcnow()
    insert(rows(0, ACTIVE_PROCESSING, Status.PROCESSING, now))
    insert(rows(ACTIVE_PROCESSING, ACTIVE_QUEUED, Status.QUEUED, now))
    enqueue_pending_recordings(settings, redis)  # queued rows get their live jobs
    assert transcribe_queue(redis).count == ACTIVE_QUEUED
    active = ACTIVE_PROCESSING + ACTIVE_QUEUED
    small = time_sweeps(settings, redis, repeats)

    started = time.perf_counter()
    for offset in range(active, total, 100_000):
        count = min(100_000, total - offset)
        insert(rows(offset, count, Status.DONE if offset % 200_000 else Status.FAILED, now))
    database.execute_sql("ANALYZE")
    filled = time.perf_counter() - started
    large = time_sweeps(settings, redis, repeats)
    print(
        f"{backend}: sweep median {small * 1000:.1f} ms with {active:,} recordings, "
        f"{large * 1000:.1f} ms with {total:,} ({active:,} active); "
        f"ratio {large / small:.2f} (target <= 2); filled in {filled:.0f}s"
    )


def scratch_postgres() -> tuple[str, callable]:
    base = os.environ.get(
        "WHISPEROPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    name = f"whisperops_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        database_proxy.close()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit(urlsplit(base)._replace(path=f"/{name}")), drop


def for_each_backend(backend: str, run_one: Callable[[str, str], None]) -> None:
    """Call ``run_one(name, database_url)`` on a scratch SQLite file and/or PostgreSQL DB."""
    if backend in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp(prefix="bench-sqlite-")) / "whisperops.db"
        run_one("sqlite", f"sqlite:///{path}")
    if backend in ("postgresql", "both"):
        url, drop = scratch_postgres()
        try:
            run_one("postgresql", url)
        finally:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    options = parser.parse_args()
    for_each_backend(
        options.backend, lambda name, url: run(name, url, options.total, options.repeats)
    )


if __name__ == "__main__":
    main()
