"""Redis killed and restarted, then flushed, in the middle of a batch: no recording lost.

The sweep runs as in production (`whisperops scheduler` + `whisperops worker
--maintenance`): both ride out the faults and the sweep is scheduled again after each.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import ON_POSTGRESQL
from tests.reliability.harness import (
    SweepProcesses,
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
# A fault to the next sweep that ran: Redis back, the scheduler's next poll (2 s)
# schedules the sweep again, the maintenance worker's RQ loop reconnects.
RESUME_SEC = 30


# Its own deadlines add up to 11.5 minutes (180 + 180 + 300 + 30 s).
@pytest.mark.timeout(900)
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
    env = worker_env(settings, stuck_processing_threshold_sec=5)
    workers = Workers(env, tmp_path / "logs")
    sweep = SweepProcesses(env, tmp_path / "sweep-logs", interval=2)
    resumed_sec = []
    try:
        sweep.start()
        start = time.time()
        workers.start("w1")
        workers.start("w2")
        wait_until(lambda: count(Status.DONE) >= 4, 180, "4 recordings done")
        down = time.time()
        own_valkey.restart(down_sec=2.0)  # every queued job, registration and schedule gone
        up = time.time()
        resumed_sec.append(sweep.wait_for_sweep(up, RESUME_SEC, "a sweep after the restart") - up)
        wait_until(lambda: count(Status.DONE) >= 12, 180, "12 done after the restart")
        flushed = time.time()
        Redis.from_url(own_valkey.url).flushall()
        resumed_sec.append(
            sweep.wait_for_sweep(flushed, RESUME_SEC, "a sweep after the flush") - flushed
        )
        wait_until(lambda: count(Status.DONE) == BATCH, 300, "the whole batch done")
        end = time.time()
        assert workers.alive() == ["w1", "w2"], "a worker died with Redis"
        assert sweep.alive() == [SweepProcesses.MAINTENANCE, "scheduler-1"], "died with Redis"
        # After the restart the workers registered again: `rq info` and the metrics see them.
        wait_until(
            lambda: Redis.from_url(own_valkey.url).scard("rq:workers") == 3,
            30,
            "workers (w1, w2, maintenance) registered again",
        )
    finally:
        workers.stop_all()
        sweep.stop_all()
    faults = [(down, up + resumed_sec[0]), (flushed, flushed + resumed_sec[1])]
    ran = sweep.assert_once_per_interval(start, end, faults)
    print(
        f"redis faults: {BATCH} recordings, 0 lost, 0 duplicated; {len(ran)} sweeps ran, "
        f"{len(sweep.sweeps_skipped())} skipped in {end - start:.0f}s; first sweep "
        f"{resumed_sec[0]:.1f}s after Redis was back, {resumed_sec[1]:.1f}s after FLUSHALL"
    )
    assert count(Status.FAILED) == 0 and count(Status.QUEUED) == 0
    assert Transcript.select().count() == BATCH
    assert all(seconds <= RESUME_SEC for seconds in resumed_sec)

    # The schedule was lost twice (restart, flush) and put back each time.
    scheduler = sweep.log("scheduler-1")
    assert scheduler.count("The sweep is not scheduled") == 2
    assert "Traceback" not in scheduler
    # No other scheduler holds rq-scheduler's lock: Redis was down, logged once.
    assert "Lock already taken" not in scheduler

    # The outage is logged once when a worker notices it and once when it is over, not
    # at every retry (RQ's own retry lines come every 2 s while Redis is down).
    logs = workers.logs() + sweep.logs()
    assert "could not connect to Redis instance" not in logs
    down = re.findall(r"(Worker \S+|Scheduler): Redis unreachable", logs)
    back = re.findall(r"(Worker \S+|Scheduler): Redis reachable again after", logs)
    assert len(down) <= 4 and sorted(down) == sorted(back), (down, back)
