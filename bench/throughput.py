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
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

from tests.audio import word_error_rate
from tests.real_speech import real_recording, reference_for
from whisperops.pipeline.transcriber import location_of, usable_cores

ROOT = Path(__file__).resolve().parent.parent
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
    """Resident bytes of every `whisperops worker` process that is not the maintenance one."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"whisperops worker" not in command or b"--maintenance" in command:
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
        from tests.integration.cli_runner import stack_environment

        env = stack_environment(self.data_dir, free_port())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

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
        from whisperops.layout import resolve_layout
        from whisperops.queueing import transcribe_queue

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
        from whisperops.enqueue import enqueue_queued
        from whisperops.models import Recording, Status, Transcript
        from whisperops.queueing import transcribe_queue
        from whisperops.redis_server import connect_redis

        started = time.perf_counter()
        ids = [ops.ingest_file(path, self.settings).recording_id for path in files]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", type=int, default=4, help="5-minute recordings")
    parser.add_argument("--calls", type=int, default=20, help="30-second calls")
    parser.add_argument("--repeat", type=int, default=2, help="best of N for the final ratios")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    archive = [
        real_recording(folder / f"long-{i}.wav", 10, first_gain=i) for i in range(options.long)
    ]
    archive += [
        real_recording(folder / f"call-{i}.wav", 1, first_gain=i) for i in range(options.calls)
    ]
    single = real_recording(folder / "single.wav", 10, first_gain=3)
    cores = usable_cores()
    audio_min = (options.long * 300 + options.calls * 30) / 60
    print(
        f"{cores} cores; archive {options.long} x 5 min + {options.calls} x 30 s "
        f"({audio_min:.0f} min of real speech); bundled tiny.en int8, beam {BEAM}, VAD"
    )

    results = {}
    for layout in bare_layouts(cores):
        seconds, texts = bare(archive, *layout)
        results[layout] = (seconds, wer_of(texts))
        print(
            f"  bare {label(layout):32s} {seconds:6.1f} s  WER {results[layout][1]:.3f}", flush=True
        )
    singles = {}
    for layout in bare_layouts(cores, single=True):
        singles[layout] = bare([single], *layout)[0]
        print(f"  bare one 5-min file, {label(layout):25s} {singles[layout]:6.1f} s", flush=True)
    best_layout = min(results, key=lambda layout: results[layout][0])
    best_single_layout = min(singles, key=singles.get)

    stack = Stack(folder)
    took, single_took, peak, texts = [], [], 0, {}
    try:
        workers = stack.wait_ready()
        for run in range(options.repeat):
            seconds, rss, texts = stack.run(unique_copies(archive, run))
            took.append(seconds)
            seconds, rss_single, _ = stack.run(unique_copies([single], run))
            single_took.append(seconds)
            peak = max(peak, rss, rss_single)
            print(f"  whisperops run {run + 1}: archive {took[-1]:.1f} s, one file {seconds:.1f} s")
            if run:  # the bare bests again, in turn with whisperops
                again = bare(archive, *best_layout)[0]
                results[best_layout] = (
                    min(again, results[best_layout][0]),
                    results[best_layout][1],
                )
                singles[best_single_layout] = min(
                    singles[best_single_layout], bare([single], *best_single_layout)[0]
                )
    finally:
        stack.stop()
    stack.log.seek(0)
    log_lines = [line for line in stack.log if "Worker layout" in line]
    best, best_wer = results[best_layout]
    default, default_wer = results[(1, 0, "sequential")]
    wer = wer_of(texts)
    took, single_took = min(took), min(single_took)
    print(
        f"whisperops default stack ({workers} transcribe worker processes): best of "
        f"{options.repeat}: {took:.1f} s for the archive, WER {wer:.3f}"
    )
    for line in log_lines:
        print(f"  {line.split('INFO whisperops.worker: ')[-1].strip()}")
    print(
        f"archive: whisperops / best bare ({label(best_layout)}) = {took / best:.2f} "
        f"(target <= 1.15)"
    )
    print(
        f"archive: whisperops / default bare (1 proc, default threads, sequential) = "
        f"{took / default:.2f} ({default / took:.1f}x the throughput)"
    )
    print(
        f"one 5-min recording: whisperops {single_took:.1f} s / best bare "
        f"({label(best_single_layout)}) {singles[best_single_layout]:.1f} s = "
        f"{single_took / singles[best_single_layout]:.2f} (target <= 1.15)"
    )
    print(
        f"WER: whisperops {wer:.3f}, bare default sequential {default_wer:.3f} "
        f"(target <= +0.01), best bare {best_wer:.3f}"
    )
    print(
        f"peak memory of the transcribe worker processes together: "
        f"{peak / 2**30:.2f} GiB (target <= 1.5 GB)"
    )


if __name__ == "__main__":
    main()
