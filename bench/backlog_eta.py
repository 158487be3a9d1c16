"""How honest the backlog ETA is: the estimate after the first 5 recordings are done,
against the time the rest really took.

Run alone (it uses every core): .venv/bin/python -m bench.backlog_eta [--recordings 30]
Validate the script quickly:    .venv/bin/python -m bench.backlog_eta --recordings 8 --quick

Real speech (the bundled two-speaker phone call, tests/real_speech.py), a mixed
archive in random order: short calls (one 30-s call) and longer files (2 to 10
copies of it, each at another gain), so the first recordings done are mostly the
short ones, as in a real queue. Two `whisperops worker` processes with the default
configuration (layout 'auto', calibrated once before the timing starts), on
SQLite and the Redis at REDIS_URL (default localhost db 13). The files are ingested
and enqueued in this process, as the watcher and the sweep do.

When the 5th recording is done, the ETA is read exactly as the console reads it
(``read_backlog`` with the transcribe workers RQ has registered); then the run is
timed until the last recording is done. Printed: the ETA, the actual time, the
error (target within 20%), and for comparison the ETA without the schedule's tail
(audio left / (pace x workers)).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.real_speech import real_recording

FIRST_DONE = 5


def build_archive(folder: Path, count: int, quick: bool, seed: int = 15) -> list[Path]:
    """``count`` distinct recordings of real speech: about 2 short calls per longer file."""
    rng = random.Random(seed)
    longest = 3 if quick else 10
    copies = [1 if rng.random() < 0.65 else rng.randint(2, longest) for _ in range(count)]
    return [
        real_recording(folder / f"rec-{i:03d}-{n * 30}s.wav", n, first_gain=i)
        for i, n in enumerate(copies)
    ]


def environment(data_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    """The default configuration: only where the data, database and Redis are."""
    from tests.integration.cli_runner import clean_environment

    env = clean_environment()
    env.update(
        {"WHISPEROPS_DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def start_workers(env: dict[str, str], log: Path, count: int = 2) -> list[subprocess.Popen]:
    with log.open("w") as out:
        return [
            subprocess.Popen(
                [sys.executable, "-m", "whisperops", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for _ in range(count)
        ]


def wait_registered(settings, redis, processes: list[subprocess.Popen], log: Path) -> int:
    """Wait (10 min at most) until every pooled transcribe worker has registered."""
    from whisperops.backlog import transcribe_workers
    from whisperops.worker.layout import resolve_layout

    deadline = time.monotonic() + 600
    while not (settings.data_dir / "calibration.json").exists():
        _alive(processes, deadline, log, "the workers never calibrated")
    expected = resolve_layout(settings).processes * len(processes)
    while (online := transcribe_workers(redis)) < expected:
        _alive(processes, deadline, log, "the transcribe workers never registered")
    return online


def _alive(processes: list[subprocess.Popen], deadline: float, log: Path, problem: str) -> None:
    if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
        raise SystemExit(f"{problem}:\n{log.read_text()[-3000:]}")
    time.sleep(0.2)


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def done_count(ids: list[int]) -> int:
    from whisperops.models import Recording, Status

    rows = Recording.select(Recording.status).where(Recording.id.in_(ids)).tuples()
    statuses = [Status(status) for (status,) in rows]
    if Status.FAILED in statuses:
        raise SystemExit("a recording failed; see the worker log")
    return statuses.count(Status.DONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="short files (validation only)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the whole run")
    args = parser.parse_args()
    if args.recordings <= FIRST_DONE:
        parser.error(f"--recordings must be over {FIRST_DONE}")

    from redis import Redis

    from whisperops import ops
    from whisperops.backlog import read_backlog, transcribe_workers
    from whisperops.clock import utcnow
    from whisperops.config import load_settings
    from whisperops.db import database_proxy
    from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
    from whisperops.migrations import migrate
    from whisperops.runtime import init_runtime
    from whisperops.text import format_duration

    folder = Path(tempfile.mkdtemp(prefix="whisperops-bench-eta-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13")
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    env = environment(folder / "data", f"sqlite:///{folder / 'whisperops.db'}", redis_url)
    settings = init_runtime(load_settings(environ=env)).settings
    migrate(database_proxy.obj, log=lambda _line: None)
    (folder / "audio").mkdir()
    files = build_archive(folder / "audio", args.recordings, args.quick)
    audio = sum(int(p.stem.split("-")[-1].removesuffix("s")) for p in files)
    print(f"{len(files)} recordings, {format_duration(audio)} of real speech, in {folder}")

    log = folder / "workers.log"
    workers = start_workers(env, log)
    try:
        online = wait_registered(settings, redis, workers, log)
        print(f"2 `whisperops worker` processes: {online} transcribe workers registered")
        started = time.monotonic()
        deadline = started + args.timeout
        ids = [ops.ingest_file(path, settings).recording_id for path in files]
        enqueue_queued(transcribe_queue(redis), settings)
        while done_count(ids) < FIRST_DONE:
            _alive(workers, deadline, log, f"fewer than {FIRST_DONE} recordings were done")
        backlog = read_backlog(settings, transcribe_workers(redis), utcnow())
        estimated_at = time.monotonic()
        while done_count(ids) < len(ids):
            _alive(workers, deadline, log, "the recordings did not all finish")
        actual = time.monotonic() - estimated_at
    finally:
        stop(workers)
        redis.flushdb()

    print(f"after the first {FIRST_DONE} ({estimated_at - started:.1f} s): {backlog.describe()}")
    if backlog.eta_sec is None:
        raise SystemExit("no ETA was shown")
    error = (backlog.eta_sec - actual) / actual
    naive = backlog.audio_sec / (backlog.pace * backlog.workers)
    print(f"ETA {backlog.eta_sec:.1f} s, actual {actual:.1f} s: error {error:+.1%} (target ±20%)")
    print(f"without the tail (audio / (pace x workers)): {naive:.1f} s, {naive / actual - 1:+.1%}")


if __name__ == "__main__":
    main()
