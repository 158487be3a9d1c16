"""Accuracy of the stored progress estimate against the true fraction of transcription time.

Run: .venv/bin/python -m bench.progress_estimate

A poller reads the recording row every 0.1 s while the worker transcribes, as the
console does, and takes whisperops' estimate (live_progress of the stored ratio and
finish time) and the plan's heuristic (2 segments per minute of audio, from the
stored segment count and duration). After the job, the transcribe step's start and
finish from the step history give the true fraction at each sample. Printed: the
mean absolute error in percentage points, per file group. Targets: <= 5 points on
files of 2 minutes or more, <= 10 points on 30-second files.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
from pathlib import Path

from redis import Redis

from bench.common import scratch_settings, speech_file
from whisperops import ops
from whisperops.db import utcnow
from whisperops.estimates import live_progress
from whisperops.models import Recording, StepRun
from whisperops.pipeline.job import process_recording
from whisperops.queueing import enqueue_recording, transcribe_queue


def plan_heuristic(segments: int | None, duration: float | None) -> float:
    estimated_segments = max(1, int((duration or 0) / 30))
    return min(99, 100 * (segments or 0) // estimated_segments) / 100


def run_one(settings, path: Path) -> tuple[float, float, int]:
    recording_id = ops.ingest_file(path, settings).recording_id
    queue = transcribe_queue(Redis.from_url(settings.redis_url))
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
            plan = plan_heuristic(row.processing_segments_count, row.duration_sec)
            samples.append((now, ours, plan))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    process_recording(recording_id, job.args[1])
    stop.set()
    poller.join()
    step = StepRun.get((StepRun.recording == recording_id) & (StepRun.step == "transcribe"))
    total = (step.finished_at - step.started_at).total_seconds()
    errors_ours, errors_plan = [], []
    for moment, ours, plan in samples:
        true = (moment - step.started_at).total_seconds() / total
        if not 0 <= true <= 1:
            continue
        errors_ours.append(abs((ours if ours is not None else 0.0) - true) * 100)
        errors_plan.append(abs(plan - true) * 100)
    count = len(errors_ours)
    return sum(errors_ours) / max(1, count), sum(errors_plan) / max(1, count), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short", type=int, default=4, help="number of 30-second files")
    parser.add_argument(
        "--long",
        type=float,
        nargs="*",
        default=[150.0, 240.0],
        help="durations of the long files, seconds",
    )
    options = parser.parse_args()
    settings = scratch_settings(heartbeat_interval_sec=1)
    audio = Path(tempfile.mkdtemp(prefix="bench-progress-"))
    # Warm-up: the worker observes its pace on one job, as any worker has after its first.
    run_one(settings, speech_file(audio, "warmup.wav", 20, seed=7))

    groups = {
        "30-s files": [
            speech_file(audio, f"short-{i}.wav", 30, seed=200 + i) for i in range(options.short)
        ],
        ">= 2-min files": [
            speech_file(audio, f"long-{i}.wav", seconds, seed=300 + i)
            for i, seconds in enumerate(options.long)
        ],
    }
    for label, files in groups.items():
        ours_all, plan_all = [], []
        for path in files:
            ours, plan, count = run_one(settings, path)
            duration = Recording.get(Recording.file_name == path.name).duration_sec
            print(
                f"  {path.name} ({duration:.0f}s audio, {count} samples): "
                f"whisperops {ours:.1f} points, plan heuristic {plan:.1f} points"
            )
            ours_all.append(ours)
            plan_all.append(plan)
        target = 10 if label.startswith("30") else 5
        print(
            f"{label}: mean absolute error whisperops {sum(ours_all) / len(ours_all):.1f} "
            f"points (target <= {target}), plan heuristic {sum(plan_all) / len(plan_all):.1f}"
        )


if __name__ == "__main__":
    main()
