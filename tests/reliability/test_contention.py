"""4 workers, the sweep and a console-style poller on one database, 200 recordings:
no "database is locked", nothing failed, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from redis import Redis

from tests.audio import write_speech_wav
from tests.reliability.harness import (
    SweepLoop,
    Workers,
    count,
    variants,
    wait_until,
    worker_env,
)
from whisperops import ops
from whisperops.config import Settings
from whisperops.console.snapshot import Query, take_snapshot
from whisperops.models import Recording, Status, Transcript

RECORDINGS = 200
WORKERS = 4


class ConsolePoller(threading.Thread):
    """What `whisperops console` does at each refresh, five times a second."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="console-poller", daemon=True)
        self.settings = settings
        self.stopping = threading.Event()
        self.polls = 0
        self.errors: list[str] = []

    def run(self) -> None:
        redis = Redis.from_url(self.settings.redis_url.get_secret_value())
        while not self.stopping.wait(0.2):
            snapshot = take_snapshot(self.settings, Query(), lambda: redis)
            self.polls += 1
            self.errors.extend(e for e in (snapshot.db_error, snapshot.redis_error) if e)


def test_four_workers_sweep_and_console_on_one_database(
    rel_settings: Settings, tmp_path: Path
) -> None:
    clip = write_speech_wav(tmp_path / "clip.wav", text="Hello, this is a short message.")
    for path in variants(clip, tmp_path / "batch", RECORDINGS):
        assert ops.ingest_file(path, rel_settings).outcome == "added"
    workers = Workers(worker_env(rel_settings, max_in_flight=RECORDINGS), tmp_path / "logs")
    sweep = SweepLoop(rel_settings, interval=0.5)
    poller = ConsolePoller(rel_settings)
    started = time.monotonic()
    sweep.start()
    poller.start()
    try:
        for index in range(WORKERS):
            workers.start(f"w{index}")
        wait_until(
            lambda: count(Status.DONE) == RECORDINGS, 400, f"{RECORDINGS} recordings done", 1
        )
    finally:
        poller.stopping.set()
        poller.join(timeout=30)
        sweep.stop()
        workers.stop_all()
    took = time.monotonic() - started
    scheme = rel_settings.database_url.get_secret_value().split(":")[0]
    print(
        f"{scheme}: {RECORDINGS} recordings, {WORKERS} workers "
        f"in {took:.0f}s ({RECORDINGS / took:.1f}/s); {sweep.sweeps} sweeps, {poller.polls} "
        "console polls"
    )
    logs = workers.logs()
    assert "database is locked" not in logs
    assert "Traceback" not in logs
    assert sweep.errors == [] and poller.errors == []
    assert Recording.select().where(Recording.status != Status.DONE).count() == 0
    assert Transcript.select().count() == RECORDINGS
