"""Load: 500 short recordings, 2 workers, the sweep enqueueing within max_in_flight."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.audio import write_speech_wav
from tests.conftest import ON_POSTGRESQL
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
from whisperops.jobs.names import TRANSCRIBE_QUEUE
from whisperops.jobs.workers import count_workers
from whisperops.models import Status, StepRun, Transcript

RECORDINGS = 500
WORKERS = 2
MAX_IN_FLIGHT = 10


class InFlightSampler(threading.Thread):
    """Recordings processing plus jobs waiting, ten times a second."""

    def __init__(self, redis_url: str) -> None:
        super().__init__(name="in-flight", daemon=True)
        self.queue = Queue(TRANSCRIBE_QUEUE, connection=Redis.from_url(redis_url))
        self.stopping = threading.Event()
        self.peak = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            self.peak = max(self.peak, count(Status.PROCESSING) + self.queue.count)
            self.samples += 1


# Its own deadlines add up to 12 minutes (120 + 600 s), after ingesting 500 files.
@pytest.mark.timeout(900)
@ON_POSTGRESQL
def test_500_recordings_two_workers_bounded_in_flight(
    rel_settings: Settings, tmp_path: Path
) -> None:
    clip = write_speech_wav(tmp_path / "clip.wav", text="Hello.")
    for path in variants(clip, tmp_path / "batch", RECORDINGS):
        assert ops.ingest_file(path, rel_settings).outcome == "added"
    settings = rel_settings.replace(max_in_flight=MAX_IN_FLIGHT)
    workers = Workers(worker_env(settings, max_in_flight=MAX_IN_FLIGHT), tmp_path / "logs")
    sweep = SweepLoop(settings, interval=0.5)
    sampler = InFlightSampler(settings.redis_url.get_secret_value())

    for index in range(WORKERS):
        workers.start(f"w{index}")
    # A worker registers in Redis once its model is loaded: measure processing, not start-up.
    redis = Redis.from_url(settings.redis_url.get_secret_value())
    wait_until(lambda: count_workers(redis) == WORKERS, 120, "workers up, their model loaded")
    started = time.monotonic()
    sweep.start()
    sampler.start()
    try:
        wait_until(lambda: count(Status.DONE) == RECORDINGS, 600, f"{RECORDINGS} done", every=1)
    finally:
        took = time.monotonic() - started
        sampler.stopping.set()
        sampler.join(timeout=10)
        sweep.stop()
        workers.stop_all()
    print(
        f"{RECORDINGS} recordings, {WORKERS} workers: {took:.0f}s, "
        f"{RECORDINGS / took:.2f} recordings/s; peak in flight {sampler.peak} sampled, "
        f"{sweep.peak_in_flight} by the sweep "
        f"(max_in_flight {MAX_IN_FLIGHT}, {sampler.samples} samples)"
    )
    # The sweep never takes more than the bound, by its own count...
    assert sweep.peak_in_flight <= MAX_IN_FLIGHT
    # ... and an outside observer agrees; its two reads (DB, then Redis) are not one
    # snapshot, so a job finishing and another enqueued between them shows as one more.
    assert sampler.peak <= MAX_IN_FLIGHT + 1
    assert Transcript.select().count() == RECORDINGS  # one each: no duplicates
    transcribed = StepRun.select().where(StepRun.step == "transcribe").count()
    assert transcribed == RECORDINGS  # nobody transcribed twice
    assert "Traceback" not in workers.logs()
