"""The calibration: how fast this host decodes real speech in each candidate layout.

For each thread count t (1, 2, 4, ... up to the cores), a process with cores/t model
replicas of t threads decodes cores/t copies of a 30-s call at once (how a pile of
short calls runs) and one 2-minute recording batched over its replicas (how a long
recording runs). The thread count with the best of both (weighted 3:1 toward piles)
wins; batch sizes 4, 8 and 16 are then compared on it, and batching is used only if
it beats a single sequential stream. The process's peak memory is recorded too, so
the layout can bound the processes by the memory available.

:func:`measure_in_child` runs it in a process of its own (``python -m
whisperops.worker.calibration``), so the worker that later forks its pool never has
CTranslate2's threads running. Choosing and caching the layout is
:mod:`whisperops.worker.layout`'s job.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from whisperops.config import Settings
from whisperops.errors import WhisperopsError
from whisperops.pipeline.transcriber import (
    BATCHED_DECODING,
    SPEECH_SAMPLE,
    location_of,
    usable_cores,
    warm_up,
)

BATCH_CANDIDATES = (4, 8, 16)


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


def measure_in_child(settings: Settings, compute_type: str, key: str) -> Calibration:
    """Measure in a child process and return the result (labelled ``key``)."""
    request = {
        "model": settings.model,
        "beam_size": settings.beam_size,
        "language": settings.language,
        "compute_type": compute_type,
        "key": key,
    }
    child = subprocess.run(
        [sys.executable, "-m", "whisperops.worker.calibration", json.dumps(request)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise WhisperopsError(
            f"calibration failed (exit {child.returncode}): {child.stderr.strip()[-2000:]}"
        )
    return Calibration(**json.loads(child.stdout.strip().splitlines()[-1]))


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
