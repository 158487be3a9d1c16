"""Redis killed and restarted, then flushed, in the middle of a batch: no recording lost."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from redis import Redis

from tests.reliability.conftest import ON_POSTGRESQL
from tests.reliability.harness import (
    SweepLoop,
    Valkey,
    Workers,
    count,
    variants,
    wait_until,
    worker_env,
)
from whisperops import ops
from whisperops.config import Settings
from whisperops.models import Status, Transcript
from whisperops.runtime import init_runtime

BATCH = 24


@pytest.fixture
def own_valkey(tmp_path: Path):
    server = Valkey(tmp_path / "valkey")
    server.start()
    yield server
    server.kill()


@ON_POSTGRESQL
def test_redis_restart_and_flush_mid_batch_lose_nothing(
    settings: Settings, migrated_db, own_valkey: Valkey, speech_wav: Path, tmp_path: Path
) -> None:
    settings = settings.replace(
        redis_url=own_valkey.url, stuck_processing_threshold_sec=5, max_retries=5
    )
    init_runtime(settings)
    for path in variants(speech_wav, tmp_path / "batch", BATCH):
        assert ops.ingest_file(path, settings).outcome == "added"
    workers = Workers(worker_env(settings, stuck_processing_threshold_sec=5), tmp_path / "logs")
    sweep = SweepLoop(settings, interval=1.0)
    sweep.start()
    try:
        workers.start("w1")
        workers.start("w2")
        wait_until(lambda: count(Status.DONE) >= 4, 180, "4 recordings done")
        own_valkey.restart(down_sec=2.0)  # every queued job and worker registration gone
        wait_until(lambda: count(Status.DONE) >= 12, 180, "12 done after the restart")
        Redis.from_url(own_valkey.url).flushall()
        wait_until(lambda: count(Status.DONE) == BATCH, 300, "the whole batch done")
        assert workers.alive() == ["w1", "w2"], "a worker died with Redis"
        # After the restart the workers registered again: `rq info` and the metrics see them.
        wait_until(
            lambda: Redis.from_url(own_valkey.url).scard("rq:workers") == 2,
            30,
            "workers registered again",
        )
    finally:
        workers.stop_all()
        sweep.stop()
    print(f"sweeps {sweep.sweeps}; sweeps that failed while Redis was down {len(sweep.errors)}")
    assert count(Status.FAILED) == 0 and count(Status.QUEUED) == 0
    assert Transcript.select().count() == BATCH

    # The outage is logged once when a worker notices it and once when it is over, not
    # at every retry (RQ's own retry lines come every 2 s while Redis is down).
    logs = workers.logs()
    assert "could not connect to Redis instance" not in logs
    down = re.findall(r"Worker (\S+): Redis unreachable", logs)
    back = re.findall(r"Worker (\S+): Redis reachable again after", logs)
    assert len(down) <= 2 and sorted(down) == sorted(back), (down, back)
