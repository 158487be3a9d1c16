"""Overhead of the pipeline over bare faster-whisper, and throughput of one worker.

Run: .venv/bin/python -m bench.pipeline_overhead [--long-seconds 300] [--short-files 20]

1. One recording of at least 5 minutes through the worker (diarization none)
   divided by bare faster-whisper on the same file with the same model and
   settings, in this process: target <= 1.05.
2. 20 short files through one worker vs a bare loop with one model load:
   throughput ratio (worker files/s over bare files/s), target >= 0.95.
Both sides decode sequentially in one process with one thread (a non-default
layout, so that only the pipeline differs). Each measurement alternates bare and
worker runs and keeps the best of N, so a noisy neighbour hurts both sides alike.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from redis import Redis

from bench.common import Stopwatch, scratch_settings, speech_file
from whisperops import ops
from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
from whisperops.models import Recording, Status
from whisperops.pipeline.transcriber import load_model
from whisperops.worker.layout import concrete
from whisperops.worker.rq_workers import build_transcribe_worker


def bare(settings, paths: list[Path]) -> float:
    model = load_model(concrete(settings)).model
    with Stopwatch() as watch:
        for path in paths:
            segments, _info = model.transcribe(
                str(path),
                beam_size=settings.beam_size,
                vad_filter=settings.vad_filter,
                language=settings.language,
            )
            list(segments)
    return watch.seconds


def through_worker(settings, paths: list[Path], run: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix=f"run{run}-"))
    copies = []
    for index, path in enumerate(paths):
        copy = folder / path.name
        copy.write_bytes(path.read_bytes() + bytes(run + 1) + bytes(index))  # unique SHA-256
        copies.append(copy)
    for copy in copies:
        ops.ingest_file(copy, settings)
    queue = transcribe_queue(Redis.from_url(settings.redis_url.get_secret_value()))
    enqueue_queued(queue, settings)
    worker = build_transcribe_worker(settings)
    with Stopwatch() as watch:
        worker.work(burst=True, logging_level="WARNING")
    done = Recording.select().where(Recording.status == Status.DONE).count()
    assert done >= len(copies) * (run + 1), "a recording did not finish"
    return watch.seconds


def best_pair(settings, paths: list[Path], rounds: int) -> tuple[float, float]:
    bare_times, worker_times = [], []
    for run in range(rounds):
        bare_times.append(bare(settings, paths))
        worker_times.append(through_worker(settings, paths, run))
    return min(bare_times), min(worker_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long-seconds", type=float, default=300)
    parser.add_argument("--short-files", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", choices=["overhead", "throughput"], help="run just one part")
    options = parser.parse_args()

    # The pipeline's own cost over the same decoding: one process, sequential, on
    # both sides (not the default layout; bench.throughput measures that).
    settings = scratch_settings(
        max_in_flight=1000,
        heartbeat_interval_sec=30,
        diarization_backend="none",
        worker_processes=1,
        cpu_threads=1,
        batch_size=0,
        compute_type="int8",
    )
    audio = Path(tempfile.mkdtemp(prefix="bench-audio-"))
    long_file = speech_file(audio, "long.wav", options.long_seconds, seed=1)
    shorts = [
        speech_file(audio, f"short-{i:02d}.wav", 8, seed=100 + i)
        for i in range(options.short_files)
    ]
    load_model(concrete(settings))  # both sides share the one loaded model

    if options.only != "throughput":
        report_overhead(settings, long_file, options)
    if options.only != "overhead":
        report_throughput(settings, shorts, options)


def report_overhead(settings, long_file: Path, options) -> None:
    bare_long, worker_long = best_pair(settings, [long_file], options.rounds)
    print(
        f"overhead, {options.long_seconds:.0f}-s file: bare {bare_long:.2f}s, "
        f"worker {worker_long:.2f}s, ratio {worker_long / bare_long:.3f} (target <= 1.05)"
    )


def report_throughput(settings, shorts: list[Path], options) -> None:
    bare_short, worker_short = best_pair(settings, shorts, options.rounds)
    ratio = (len(shorts) / worker_short) / (len(shorts) / bare_short)
    print(
        f"throughput, {len(shorts)} short files: bare {len(shorts) / bare_short:.2f} files/s, "
        f"worker {len(shorts) / worker_short:.2f} files/s, ratio {ratio:.3f} (target >= 0.95)"
    )


if __name__ == "__main__":
    main()
