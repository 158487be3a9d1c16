"""Throughput of the default whisperops stack against the best bare faster-whisper layout.

Run alone (it uses every core): .venv/bin/python -m bench.throughput [--long 4 --calls 20]

Real speech (the bundled two-speaker phone call, tests/real_speech.py): a mixed
archive of LONG 5-minute recordings and CALLS 30-second calls, longest first.

Baseline: every bare faster-whisper layout this machine allows — P processes
(1..cores) x T CTranslate2 threads (P x T <= cores, and CTranslate2's default
threads for one process) x {sequential, BatchedInferencePipeline batch 8} —
each a fresh pool of processes loading the same model (bundled tiny.en, int8,
beam 5, VAD) and taking the next file as it finishes one. The best is the
baseline; the default (1 process, default threads, sequential, what most users
write) is printed too.

whisperops: the stack from the Procfile under `honcho start` with default
settings (worker layout 'auto': the calibration runs as the stack starts and is
not timed), on the embedded Valkey and SQLite. Timed from ingesting and
enqueueing the files (in this process, as the watcher does) until every
recording is done: all six steps, outputs written. Then one 5-minute recording
alone on the same stack, against the best bare single-file time.

Printed: seconds, ratio to the best bare layout (targets <= 1.15), WER on the
reference against bare sequential (target <= +0.01), peak memory of all transcribe
worker processes together (target <= 1.5 GB).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from tests.audio import word_error_rate
from tests.real_speech import real_recording, reference_for
from whisperops.pipeline.transcriber import location_of, usable_cores

BEAM = 5

_model = None
_mode = "sequential"


def _load(threads: int, mode: str) -> None:
    global _model, _mode
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(
        location_of("bundled"), device="cpu", compute_type="int8", cpu_threads=threads
    )
    _model = BatchedInferencePipeline(model) if mode == "batched" else model
    _mode = mode


def _transcribe(path: str) -> tuple[str, str]:
    extra = {"batch_size": 8} if _mode == "batched" else {"vad_filter": True}
    segments, _ = _model.transcribe(path, beam_size=BEAM, **extra)
    return path, " ".join(segment.text.strip() for segment in segments)


def bare(files: list[Path], processes: int, threads: int, mode: str) -> tuple[float, dict]:
    """Seconds for the whole pile, model loads included, and the text of each file."""
    started = time.perf_counter()
    with get_context("spawn").Pool(processes, _load, (threads, mode)) as pool:
        texts = dict(pool.imap_unordered(_transcribe, [str(f) for f in files], chunksize=1))
    return time.perf_counter() - started, texts


def bare_layouts(cores: int, single: bool = False) -> list[tuple[int, int, str]]:
    """(processes, threads, mode): CTranslate2's default threads (0) in one process, then
    every P x T that fills the cores. For a pile of files, one process with fewer threads
    than cores leaves cores idle and is left out; for one file it is tried."""
    layouts = [(1, 0, mode) for mode in ("sequential", "batched")]
    for processes in range(1, (1 if single else cores) + 1):
        for threads in sorted({1, cores // processes}):
            if processes * threads == cores or single:
                layouts += [(processes, threads, mode) for mode in ("sequential", "batched")]
    return layouts


def label(layout: tuple[int, int, str]) -> str:
    processes, threads, mode = layout
    return f"{processes} proc x {threads or 'default'} thr, {mode}"


# --- the whisperops stack ------------------------------------------------------------


def rss_of_workers() -> int:
    """Resident bytes of every transcribe worker process: the Procfile's `workers.transcribe`
    (and the pool processes it forks), or a `whisperops worker` without --maintenance."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            transcribe = b"workers.transcribe" in command or (
                b"whisperops worker" in command and b"--maintenance" not in command
            )
            if not transcribe:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class Stack:
    def __init__(self, folder: Path) -> None:
        self.data_dir = folder / "data"
        self.log = (folder / "stack.log").open("w+")
        from tests.conftest import free_port
        from tests.integration.cli_runner import stack_environment, start_stack

        env = stack_environment(self.data_dir, free_port())
        self.process = start_stack(env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> int:
        """Wait until the transcribe workers are registered; returns how many."""
        from rq import Worker

        from whisperops.config import load_settings
        from whisperops.redis_server import connect_redis
        from whisperops.runtime import init_runtime

        deadline = time.monotonic() + timeout
        while not (self.data_dir / "calibration.json").exists():
            self._check(deadline, "the worker never calibrated")
        settings = load_settings(environ={"WHISPEROPS_DATA_DIR": str(self.data_dir)})
        from whisperops.jobs.enqueue import transcribe_queue
        from whisperops.worker.layout import resolve_layout

        expected = resolve_layout(settings).processes
        self.settings = init_runtime(settings).settings
        redis = connect_redis(self.settings)
        while True:
            workers = Worker.all(queue=transcribe_queue(redis))
            if len(workers) >= expected:
                return len(workers)
            self._check(deadline, "the transcribe workers never registered")

    def _check(self, deadline: float, problem: str) -> None:
        if self.process.poll() is not None or time.monotonic() > deadline:
            self.log.seek(0)
            raise SystemExit(f"{problem}:\n{self.log.read()[-3000:]}")
        time.sleep(0.2)

    def run(self, files: list[Path], timeout: float = 1800) -> tuple[float, int, dict]:
        """Ingest and enqueue ``files``; seconds until all are done, peak worker RSS, texts."""
        from whisperops import ops
        from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
        from whisperops.models import Recording, Status, Transcript
        from whisperops.redis_server import connect_redis

        started = time.perf_counter()
        added = [ops.ingest_file(path, self.settings) for path in files]
        if any(result.outcome != "added" for result in added):
            raise SystemExit(f"not ingested: {[r for r in added if r.outcome != 'added']}")
        ids = [result.recording_id for result in added]
        enqueue_queued(transcribe_queue(connect_redis(self.settings)), self.settings)
        peak = 0
        deadline = time.monotonic() + timeout
        while True:
            peak = max(peak, rss_of_workers())
            rows = list(Recording.select().where(Recording.id.in_(ids)))
            if all(row.status in (Status.DONE, Status.FAILED) for row in rows):
                break
            self._check(deadline, "the recordings did not finish")
            time.sleep(0.05)
        took = time.perf_counter() - started
        failed = [row.file_name for row in rows if row.status is Status.FAILED]
        if failed:
            raise SystemExit(f"failed: {failed}")
        texts = {row.file_path: Transcript.get(Transcript.recording == row.id).text for row in rows}
        return took, peak, texts

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        from whisperops.redis_server import read_embedded

        server = read_embedded(self.data_dir)
        if server is not None:
            os.kill(server.pid, signal.SIGKILL)


def wer_of(texts: dict) -> float:
    """Word error rate over all files together (long-* files hold 10 copies of the call)."""
    errors = words = 0
    for path, text in texts.items():
        reference = reference_for(10 if Path(path).name.startswith(("long", "single")) else 1)
        count = len(reference.split())
        errors += word_error_rate(reference, text) * count
        words += count
    return errors / max(1, words)


def unique_copies(files: list[Path], run: int) -> list[Path]:
    """Byte-distinct copies (whisperops skips a file it has seen by its SHA-256)."""
    folder = files[0].parent / f"run-{run}"
    folder.mkdir(exist_ok=True)
    copies = []
    for path in files:
        copy = folder / path.name
        copy.write_bytes(path.read_bytes() + bytes(run + 1))  # trailing bytes after the data
        copies.append(copy)
    return copies


def measure_bare(files: list[Path], layouts, what: str) -> dict:
    """Seconds and WER of each bare layout on ``files``."""
    results = {}
    for layout in layouts:
        seconds, texts = bare(files, *layout)
        results[layout] = (seconds, wer_of(texts))
        print(f"  bare {what}, {label(layout):32s} {seconds:6.1f} s  WER {results[layout][1]:.3f}")
    return results


def measure_stack(folder: Path, parts: dict[str, list[Path]], repeat: int, bare_again) -> dict:
    """Best-of-``repeat`` seconds per part on the default stack, WER and peak worker RSS;
    between runs ``bare_again(part)`` re-times the best bare layout, in turn."""
    stack = Stack(folder)
    took: dict[str, list[float]] = {part: [] for part in parts}
    wer, peak = {}, 0
    try:
        workers = stack.wait_ready()
        for run in range(repeat):
            for part, files in parts.items():
                seconds, rss, texts = stack.run(unique_copies(files, run))
                took[part].append(seconds)
                wer[part], peak = wer_of(texts), max(peak, rss)
                print(f"  whisperops {part}, run {run + 1}: {seconds:.1f} s", flush=True)
                if run:
                    bare_again(part)
    finally:
        stack.stop()
    stack.log.seek(0)
    for line in stack.log:
        if "Worker layout" in line:
            print(f"  {line.split('INFO whisperops.worker.rq_workers: ')[-1].strip()}")
    return {
        "workers": workers,
        "seconds": {part: min(times) for part, times in took.items()},
        "wer": wer,
        "peak": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", type=int, default=4, help="5-minute recordings")
    parser.add_argument("--calls", type=int, default=20, help="30-second calls")
    parser.add_argument("--repeat", type=int, default=2, help="best of N for the final ratios")
    parser.add_argument("--part", choices=["all", "archive", "single"], default="all")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="bare baseline: only P=cores x 1 thread batched and the default layout",
    )
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    archive = [
        real_recording(folder / f"long-{i}.wav", 10, first_gain=i) for i in range(options.long)
    ]
    archive += [
        real_recording(folder / f"call-{i}.wav", 1, first_gain=i) for i in range(options.calls)
    ]
    # Its own gains (the long ones start at 0-3), so not a duplicate of one of them.
    single = real_recording(folder / "single.wav", 10, first_gain=99)
    cores = usable_cores()
    print(
        f"{cores} cores; archive {options.long} x 5 min + {options.calls} x 30 s of real "
        f"speech; one 5-min file; bundled tiny.en int8, beam {BEAM}, VAD"
    )
    parts = {"archive": archive, "single": [single]}  # single: one 5-min file alone
    if options.part != "all":
        parts = {options.part: parts[options.part]}

    def layouts(single: bool) -> list:
        every = bare_layouts(cores, single=single)
        if not options.quick:
            return every
        return [(1, 0, "sequential"), (1, 0, "batched") if single else (cores, 1, "batched")]

    bare_results = {
        part: measure_bare(files, layouts(len(files) == 1), part) for part, files in parts.items()
    }
    best = {part: min(found, key=lambda k: found[k][0]) for part, found in bare_results.items()}

    def bare_again(part: str) -> None:
        seconds, wer = bare_results[part][best[part]]
        again = bare(parts[part], *best[part])[0]
        bare_results[part][best[part]] = (min(seconds, again), wer)

    ours = measure_stack(folder, parts, options.repeat, bare_again)
    print(f"whisperops: default stack, {ours['workers']} transcribe worker processes")
    for part in parts:
        seconds = ours["seconds"][part]
        best_seconds, best_wer = bare_results[part][best[part]]
        default_seconds, default_wer = bare_results[part][(1, 0, "sequential")]
        print(
            f"{part}: whisperops {seconds:.1f} s (best of {options.repeat}) / best bare "
            f"({label(best[part])}) {best_seconds:.1f} s = {seconds / best_seconds:.2f} "
            f"(target <= 1.15); / default bare (1 proc, default threads, sequential) "
            f"{default_seconds:.1f} s = {seconds / default_seconds:.2f} "
            f"({default_seconds / seconds:.1f}x the throughput)"
        )
        print(
            f"{part}: WER whisperops {ours['wer'][part]:.3f}, bare default sequential "
            f"{default_wer:.3f} (target <= +0.01), best bare {best_wer:.3f}"
        )
    print(
        f"peak memory of the transcribe worker processes together: "
        f"{ours['peak'] / 2**30:.2f} GiB (target <= 1.5 GB)"
    )


if __name__ == "__main__":
    main()
