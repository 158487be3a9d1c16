"""Accuracy of the stored progress estimate against the true fraction of transcription time.

Run alone: .venv/bin/python -m bench.progress_estimate

Real speech (the bundled two-speaker phone call, tests/real_speech.py): 30-second
calls and recordings of 2.5 and 5 minutes, with the default settings (worker
layout 'auto': batched decoding, calls included).

A poller reads the recording row every 0.1 s while the worker transcribes, as the
console does, and takes whisperops' estimate (live_progress of the stored ratio and
finish time) and the naive heuristic (2 segments per minute of audio, from the
stored segment count and duration). After the job, the transcribe step's start and
finish from the step history give the true fraction at each sample. Printed: the
mean absolute error in percentage points, per file group, and the longest stretch
the estimate sat at 99% as a share of the step. Targets: <= 3 points on files of
2 minutes or more, <= 5 points on 30-second files.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from redis import Redis

from bench.common import scratch_settings
from tests.real_speech import real_recording
from whisperops import ops
from whisperops.clock import utcnow
from whisperops.jobs.enqueue import enqueue_recording, transcribe_queue
from whisperops.models import Recording, StepRun
from whisperops.pipeline.job import process_recording
from whisperops.progress import live_progress


def naive_heuristic(segments: int | None, duration: float | None) -> float:
    estimated_segments = max(1, int((duration or 0) / 30))
    return min(99, 100 * (segments or 0) // estimated_segments) / 100


def run_one(settings, path: Path) -> tuple[float, float, int, float]:
    """MAE of whisperops and of the naive heuristic, samples, and the share of the step
    the estimate sat at 99%."""
    recording_id = ops.ingest_file(path, settings).recording_id
    queue = transcribe_queue(Redis.from_url(settings.redis_url.get_secret_value()))
    job = enqueue_recording(queue, Recording.get_by_id(recording_id), settings)
    queue.remove(job)  # run it here instead, with the poller watching
    samples: list[tuple] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.1):
            row = Recording.get_by_id(recording_id)
            if row.processing_step != "transcribe":
                continue
            now = utcnow()
            ours = live_progress(row.progress_ratio, row.estimated_finish_at, row.updated_at, now)
            naive = naive_heuristic(row.processing_segments_count, row.duration_sec)
            samples.append((now, ours, naive))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    process_recording(recording_id, job.args[1])
    stop.set()
    poller.join()
    step = StepRun.get((StepRun.recording == recording_id) & (StepRun.step == "transcribe"))
    total = (step.finished_at - step.started_at).total_seconds()
    errors_ours, errors_naive, at_99 = [], [], []
    for moment, ours, naive in samples:
        true = (moment - step.started_at).total_seconds() / total
        if not 0 <= true <= 1:
            continue
        errors_ours.append(abs((ours if ours is not None else 0.0) - true) * 100)
        errors_naive.append(abs(naive - true) * 100)
        if ours is not None and ours >= 0.985:
            at_99.append(true)
    count = len(errors_ours)
    plateau = (1 - min(at_99)) if at_99 else 0.0
    return sum(errors_ours) / max(1, count), sum(errors_naive) / max(1, count), count, plateau


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", type=int, default=4, help="number of 30-second calls")
    parser.add_argument(
        "--long",
        type=int,
        nargs="*",
        default=[5, 10],
        help="lengths of the long recordings, in 30-second copies of the call",
    )
    options = parser.parse_args()
    settings = scratch_settings(heartbeat_interval_sec=1)
    audio = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    # Warm-up: the worker observes its pace on a job of each kind, as any worker has
    # after its first ones (the very first starts from the calibration's figures).
    for name, copies in (("warmup-call.wav", 1), ("warmup-long.wav", 4)):
        run_one(settings, real_recording(audio / name, copies, first_gain=4))

    groups = {
        "30-s calls": [
            real_recording(audio / f"call-{i}.wav", 1, first_gain=i) for i in range(options.short)
        ],
        ">= 2-min recordings": [
            real_recording(audio / f"long-{i}.wav", copies, first_gain=i)
            for i, copies in enumerate(options.long)
        ],
    }
    for label, files in groups.items():
        ours_all, naive_all = [], []
        for path in files:
            ours, naive, count, plateau = run_one(settings, path)
            duration = Recording.get(Recording.file_name == path.name).duration_sec
            print(
                f"  {path.name} ({duration:.0f}s audio, {count} samples): "
                f"whisperops {ours:.1f} points (at 99% for the last {plateau:.0%} of the step), "
                f"naive heuristic {naive:.1f} points"
            )
            ours_all.append(ours)
            naive_all.append(naive)
        target = 5 if label.startswith("30") else 3
        print(
            f"{label}: mean absolute error whisperops {sum(ours_all) / len(ours_all):.1f} "
            f"points (target <= {target}), naive heuristic {sum(naive_all) / len(naive_all):.1f}"
        )


if __name__ == "__main__":
    main()
