"""The worker layout — processes, threads per model replica, batch size — by measurement.

No fixed layout is right everywhere: on a 2-core machine two single-threaded
processes get through a pile of recordings 1.4x faster than one with 2 CTranslate2
threads, while faster-whisper's own CPU benchmark uses 8 threads. So the settings
left at 'auto' (``worker_processes``, ``cpu_threads``, ``batch_size``) are filled
from a short calibration on the configured model and a bundled clip of real speech:

* for each thread count t (1, 2, 4, ... up to the cores), a process with cores/t
  replicas of t threads decodes cores/t copies of a 30-s call at once (how a pile
  of short calls runs) and one 2-minute recording batched over its replicas (how a
  long recording runs);
* the thread count with the best of both (weighted 3:1 toward piles) wins; batch sizes 4, 8
  and 16 are then compared on it, and batching is used only if it beats a single
  sequential stream;
* processes = cores / t, never more than the memory available holds, each measured
  process counted at its peak.

The result is cached per host, model, device, compute type and beam size in
``data_dir/calibration.json``, and re-measured with `whisperops calibrate`. It runs
in a child process of its own, so the worker that forks its pool never has
CTranslate2's threads running. On CUDA one process with batch 16 in float16 is
taken without measuring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from whisperops.config import Settings
from whisperops.errors import WhisperopsError
from whisperops.pipeline.transcriber import (
    BATCHED_DECODING,
    location_of,
    model_location,
    replicas_for,
    usable_cores,
    warm_up,
)

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "calibration.json"
SPEECH_SAMPLE = Path(__file__).parent / "assets" / "speech-sample.ogg"
"""30 s of two people talking on a phone line (pyannote.audio's sample, MIT licence)."""

GPU_BATCH_SIZE = 16
BATCH_CANDIDATES = (4, 8, 16)
MEMORY_SHARE = 0.8
"""Of the memory available at start, the share worker processes may take together."""


@dataclass(frozen=True)
class Calibration:
    """What the calibration measured on this host, and what it chose."""

    key: str
    cores: int
    cpu_threads: int
    batch_size: int
    process_memory_mb: float
    pace: dict[str, float]
    """Wall seconds per speech second, 'sequential' (all replicas busy) and 'batched'."""
    candidates: list[dict] = field(default_factory=list)
    measured_at: str = ""
    took_sec: float = 0.0

    def summary(self) -> str:
        rows = "; ".join(
            f"{row['threads']} thread(s) x {row['replicas']} replica(s): "
            f"{row['sequential']:.1f} speech-s/s sequential, {row['batched']:.1f} batched"
            for row in self.candidates
        )
        return (
            f"calibrated {self.measured_at} in {self.took_sec:.0f}s on {self.cores} cores: {rows}"
        )


@dataclass(frozen=True)
class Layout:
    processes: int
    cpu_threads: int
    replicas: int
    batch_size: int
    device: str
    compute_type: str
    reason: str

    def describe(self) -> str:
        batch = f"batch {self.batch_size}" if self.batch_size else "sequential decoding"
        threads = self.cpu_threads or "default"
        return (
            f"{self.processes} process(es) x {self.replicas} replica(s) x {threads} thread(s), "
            f"{batch}, {self.device} {self.compute_type}"
        )


def resolved_device(settings: Settings) -> str:
    if settings.device != "auto":
        return settings.device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def resolved_compute_type(settings: Settings, device: str) -> str:
    if settings.compute_type != "auto":
        return settings.compute_type
    return "float16" if device == "cuda" else "int8"


def calibration_key(settings: Settings, device: str, compute_type: str) -> str:
    return (
        f"{socket.gethostname()}|{model_location(settings)}|{device}|{compute_type}"
        f"|beam {settings.beam_size}|{usable_cores()} cores"
    )


def _cache_path(settings: Settings) -> Path:
    return settings.data_dir / CACHE_FILE_NAME


def cached_calibration(settings: Settings, key: str) -> Calibration | None:
    try:
        entries = json.loads(_cache_path(settings).read_text())
        return Calibration(**entries[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(settings: Settings, calibration: Calibration) -> None:
    path = _cache_path(settings)
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = {}
    entries[calibration.key] = dataclasses.asdict(calibration)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(entries, indent=2))
    temporary.replace(path)


def calibrate(settings: Settings, compute_type: str, key: str) -> Calibration:
    """Measure now (in a child process), cache under ``key`` and return the result."""
    log.info("Calibrating the worker layout for %s (takes a minute or less)", key)
    request = {
        "model": settings.model,
        "beam_size": settings.beam_size,
        "language": settings.language,
        "compute_type": compute_type,
        "key": key,
    }
    child = subprocess.run(
        [sys.executable, "-m", "whisperops.layout", json.dumps(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise WhisperopsError(
            f"calibration failed (exit {child.returncode}): {child.stderr.strip()[-2000:]}"
        )
    calibration = Calibration(**json.loads(child.stdout.strip().splitlines()[-1]))
    _store(settings, calibration)
    return calibration


@contextlib.contextmanager
def _calibration_lock(settings: Settings) -> Iterator[None]:
    import fcntl

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "calibration.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def available_memory_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def resolve_layout(settings: Settings, recalibrate: bool = False) -> Layout:
    """The layout for these settings: explicit values kept, 'auto' ones filled in."""
    device = resolved_device(settings)
    compute_type = resolved_compute_type(settings, device)
    chosen = {
        name: getattr(settings, name) for name in ("worker_processes", "cpu_threads", "batch_size")
    }
    if device == "cuda":
        auto = {"worker_processes": 1, "cpu_threads": 0, "batch_size": GPU_BATCH_SIZE}
        reason = "CUDA: one process, float16 and batch 16 unless set (not calibrated)"
        values = {name: auto[name] if value == "auto" else value for name, value in chosen.items()}
        return Layout(
            values["worker_processes"],
            values["cpu_threads"],
            1,
            values["batch_size"],
            device,
            compute_type,
            reason,
        )
    cores = usable_cores()
    reason = "set explicitly"
    if recalibrate or "auto" in chosen.values():
        key = calibration_key(settings, device, compute_type)
        calibration = None if recalibrate else cached_calibration(settings, key)
        if calibration is None:
            # One calibration at a time per data folder: two workers started together
            # would disturb each other's timings; the second finds the first's result.
            with _calibration_lock(settings):
                calibration = None if recalibrate else cached_calibration(settings, key)
                if calibration is None:
                    calibration = calibrate(settings, compute_type, key)
        reason = calibration.summary()
        threads = (
            calibration.cpu_threads if chosen["cpu_threads"] == "auto" else chosen["cpu_threads"]
        )
        if chosen["batch_size"] == "auto":
            chosen["batch_size"] = calibration.batch_size
        if chosen["worker_processes"] == "auto":
            by_cores = max(1, cores // max(1, threads))
            memory = available_memory_mb()
            by_memory = (
                max(1, int(memory * MEMORY_SHARE // calibration.process_memory_mb))
                if memory and calibration.process_memory_mb
                else by_cores
            )
            chosen["worker_processes"] = min(by_cores, by_memory)
            reason += (
                f"; {chosen['worker_processes']} process(es): {by_cores} by cores, "
                f"{by_memory} by memory (~{calibration.process_memory_mb:.0f} MB each, "
                f"{(memory or 0) / 1024:.1f} GiB available)"
            )
        chosen["cpu_threads"] = threads
    return Layout(
        chosen["worker_processes"],
        chosen["cpu_threads"],
        replicas_for(chosen["cpu_threads"], device),
        chosen["batch_size"],
        device,
        compute_type,
        reason,
    )


@functools.lru_cache(maxsize=8)
def concrete(settings: Settings) -> Settings:
    """``settings`` with every 'auto' of the layout replaced by its resolved value."""
    unresolved = (
        "auto"
        in (settings.worker_processes, settings.cpu_threads, settings.batch_size, settings.device)
        or settings.compute_type == "auto"
    )
    if not unresolved:
        return settings
    layout = resolve_layout(settings)
    return applied(settings, layout)


def applied(settings: Settings, layout: Layout) -> Settings:
    return dataclasses.replace(
        settings,
        worker_processes=layout.processes,
        cpu_threads=layout.cpu_threads,
        batch_size=layout.batch_size,
        device=layout.device,
        compute_type=layout.compute_type,
    )


# --- the measurement, run in a child process ------------------------------------


def measure(request: dict) -> Calibration:
    """Decode the bundled speech in each candidate layout; see the module docstring."""
    import resource
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from whisperops.pipeline.replica_batches import ReplicaBatchedPipeline

    started = time.monotonic()
    cores = usable_cores()
    call = decode_audio(str(SPEECH_SAMPLE))
    recording = np.clip(np.concatenate([call, call * 0.6, call * 1.4, call * 0.8]), -1.0, 1.0)
    options = {"beam_size": request["beam_size"], "language": request["language"]}
    location = location_of(request["model"])
    local = request["model"] == "bundled" or Path(location).exists()

    def sequential(model) -> float:
        segments, info = model.transcribe(call, vad_filter=True, **options)
        list(segments)
        return info.duration_after_vad

    def batched(model, pool, replicas: int, batch: int) -> tuple[float, float]:
        pipeline = ReplicaBatchedPipeline(model, pool, replicas, lambda *_progress: None)
        begun = time.perf_counter()
        segments, info = pipeline.transcribe(
            recording, batch_size=batch, **BATCHED_DECODING, **options
        )
        list(segments)
        return info.duration_after_vad, time.perf_counter() - begun

    candidates: list[dict] = []
    best = None
    for threads in sorted({t for t in (1, 2, 4, 8, 16, 32, 64) if t <= cores} | {cores}):
        replicas = max(1, cores // threads)
        model = WhisperModel(
            location,
            device="cpu",
            compute_type=request["compute_type"],
            cpu_threads=threads,
            num_workers=replicas,
            local_files_only=local,
        )
        pool = ThreadPoolExecutor(replicas)
        warm_up(model)
        begun = time.perf_counter()
        speech = [
            stream.result() for stream in [pool.submit(sequential, model) for _ in range(replicas)]
        ]
        sequential_sec = time.perf_counter() - begun
        batch_speech, batch_sec = batched(model, pool, replicas, 8)
        row = {
            "threads": threads,
            "replicas": replicas,
            "sequential": sum(speech) / sequential_sec,
            "sequential_stream": speech[0] / sequential_sec,
            "batched": batch_speech / batch_sec,
            "batches": {"8": batch_speech / batch_sec},
        }
        candidates.append(row)
        if best is None or _score(row) > _score(best[0]):
            best = (row, model, pool)
        else:
            pool.shutdown()
            del model
    row, model, pool = best
    for batch in BATCH_CANDIDATES:
        if str(batch) not in row["batches"]:
            speech, took = batched(model, pool, row["replicas"], batch)
            row["batches"][str(batch)] = speech / took
    fastest = max(row["batches"].values())
    batch_size = min(int(b) for b, value in row["batches"].items() if value >= fastest * 0.97)
    if fastest < row["sequential_stream"] * 1.1:
        batch_size = 0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Calibration(
        key=request["key"],
        cores=cores,
        cpu_threads=row["threads"],
        batch_size=batch_size,
        process_memory_mb=round(peak_mb, 1),
        pace={
            "sequential": row["replicas"] / row["sequential"],
            "batched": 1 / row["batches"][str(batch_size or 8)],
        },
        candidates=candidates,
        measured_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        took_sec=round(time.monotonic() - started, 1),
    )


def _score(row: dict) -> float:
    """Piles of recordings and single long ones both matter, piles more: a layout with
    fewer processes loses on every pile, but only a little on one long recording
    (measured on 2 cores: 1.3x on piles, within the noise on one long file)."""
    return row["sequential"] ** 0.75 * row["batched"] ** 0.25


if __name__ == "__main__":
    calibration = measure(json.loads(sys.argv[1]))
    print(json.dumps(dataclasses.asdict(calibration)))
