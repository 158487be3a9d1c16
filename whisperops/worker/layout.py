"""The worker layout — processes, threads per model replica, batch size — chosen and cached.

No fixed layout is right everywhere: on a 2-core machine two single-threaded
processes get through a pile of recordings 1.4x faster than one with 2 CTranslate2
threads, while faster-whisper's own CPU benchmark uses 8 threads. So the settings
left at 'auto' (``worker_processes``, ``cpu_threads``, ``batch_size``) are filled
from a short calibration on the configured model and a bundled clip of real speech
(:mod:`whisperops.worker.calibration` measures): the calibrated thread count and batch
size, and processes = cores / threads, never more than the memory available holds.

The calibration is cached per host, model, device, compute type and beam size in
``data_dir/calibration.json``, and re-measured with `whisperops calibrate`. On CUDA
one process with batch 16 in float16 is taken without measuring.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from whisperops.config import Settings
from whisperops.pipeline.transcriber import model_location, replicas_for, usable_cores
from whisperops.worker.calibration import Calibration, measure_in_child

log = logging.getLogger(__name__)

CACHE_FILE_NAME = "calibration.json"
GPU_BATCH_SIZE = 16
MEMORY_SHARE = 0.8
"""Of the memory available at start, the share worker processes may take together."""


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
    calibration = measure_in_child(settings, compute_type, key)
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
    return settings.replace(
        worker_processes=layout.processes,
        cpu_threads=layout.cpu_threads,
        batch_size=layout.batch_size,
        device=layout.device,
        compute_type=layout.compute_type,
    )
