"""The backlog: how much audio is left, and when it will be done at the recent pace.

The model, and why it is shaped so:

* **Work per recording** = ``overhead + cost * duration`` wall seconds on one worker,
  fitted over the last :data:`SAMPLE` done recordings. Each one's wall time is the
  span of the step runs of the attempt that finished it (first start to last
  finish); only attempts that ran transcribe count (a re-diarization's attempt has
  none of the decoding time). The overhead is what a 30-s call pays as much as a
  2-h meeting (probing, loading the audio, language detection, writing outputs):
  with a ratio alone (audio / wall), a sample of short calls would make a queue of
  long files look slow, and the reverse. The overhead is the least-squares
  intercept kept within [0, the shortest job's wall time]; the cost per audio second
  is then chosen so that the model reproduces the sample's total wall time exactly
  (an unbiased ratio over what was really measured). With fewer than
  :data:`MIN_FIT` recordings, or all of one length, the overhead is 0.
* **Durations of queued recordings** are mostly unknown (the job's extract_metadata
  reads them): they are estimated from ``size_bytes`` at the seconds per byte of
  the same recent recordings, and the result is marked as an estimate (``≈``).
  Known durations are used where present. A queue of a different format than the
  recent work (mp3 after wav) is estimated at the wrong rate until some of it is done.
* **Processing recordings**: in transcribe, ``duration * (1 - progress)`` of audio
  is left (the worker's estimate carried forward by ``live_progress``); before it,
  the whole recording and its overhead; after it, nothing (diarization and the
  rest are part of the fitted cost, not counted twice).
* **Workers**: the online transcribe workers, at most ``max_in_flight``. The ETA
  is the time until the last recording is done when each worker takes the next
  queued one (in enqueue order) as it comes free, starting from what each running
  job has left; so a short queue's tail (one long file on one worker while the
  others idle) is counted. Past :data:`SCHEDULE_LIMIT` queued rows the tail is a
  rounding error: the ETA is then the total work divided by the workers.

``pace`` (audio seconds per wall second per worker) is the sample's total audio over
its total wall time: the figure an operator compares between hosts and models.

Every query goes through an index: the status indexes for queued, processing and
the recent done rows, (recording, attempt) for their step runs. Its cost follows
the active rows, not the table.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from whisperops.config import Settings
from whisperops.db import database_proxy
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun
from whisperops.progress import live_progress
from whisperops.text import format_duration

SAMPLE = 30
"""Done recordings the pace is learned from (the most recently updated)."""
MIN_FIT = 3
"""Fewer sampled recordings than this: no overhead is fitted, only a ratio."""
SCHEDULE_LIMIT = 500
"""Queued recordings scheduled one by one onto the workers; beyond it, total / workers."""
_BEFORE_TRANSCRIBE = {None, Step.PARSE_METADATA.value, Step.EXTRACT_METADATA.value}


@dataclass(frozen=True)
class WorkModel:
    """Wall seconds one worker spends on a recording: ``overhead + cost * duration``."""

    overhead_sec: float
    cost_per_audio_sec: float
    pace: float  # audio seconds per wall second, over the sample
    seconds_per_byte: float | None  # audio seconds per byte of file, over the sample
    sample: int

    def work(self, audio_sec: float, started: bool = False) -> float:
        """Wall seconds for ``audio_sec`` more audio; ``started`` jobs paid the overhead."""
        return (0.0 if started else self.overhead_sec) + self.cost_per_audio_sec * audio_sec


@dataclass(frozen=True)
class Backlog:
    queued: int = 0
    queued_audio_sec: float = 0.0
    queued_estimated: int = 0  # queued recordings whose duration is estimated from size
    processing: int = 0
    processing_remaining_sec: float = 0.0  # audio seconds the running jobs have left
    pace: float | None = None  # audio seconds per wall second per worker
    workers: int | None = None  # None: unknown (Redis down)
    eta_sec: float | None = None

    @property
    def audio_sec(self) -> float:
        """Audio seconds still to transcribe: queued plus what running jobs have left."""
        return self.queued_audio_sec + self.processing_remaining_sec

    @property
    def empty(self) -> bool:
        return self.queued == 0 and self.processing == 0

    def describe(self) -> str:
        """'backlog 14h20m audio · ~2h10m at current pace (3 workers)' and its variants."""
        if self.empty:
            return "no backlog"
        audio = ("≈" if self.queued_estimated else "") + format_duration(self.audio_sec)
        line = f"backlog {audio} audio"
        if self.pace is None:
            return line + " · pace unknown yet"
        if self.workers is None:
            return line + " · workers unknown (Redis down)"
        if self.workers == 0:
            return line + " · no workers online"
        plural = "s" if self.workers != 1 else ""
        return (
            line
            + f" · ~{format_duration(self.eta_sec)} at current pace ({self.workers} worker{plural})"
        )


def transcribe_workers(connection) -> int:
    """Workers registered for the transcribe queue (every pooled process is one)."""
    from whisperops.jobs.names import TRANSCRIBE_QUEUE
    from whisperops.jobs.workers import count_workers

    return count_workers(connection, (TRANSCRIBE_QUEUE,))


def fit_work_model(samples: list[tuple[float, float, int]]) -> WorkModel | None:
    """The work model from (audio seconds, wall seconds, size bytes) of done recordings."""
    samples = [s for s in samples if s[0] > 0 and s[1] > 0]
    if not samples:
        return None
    n = len(samples)
    audio = sum(s[0] for s in samples)
    wall = sum(s[1] for s in samples)
    size = sum(s[2] for s in samples)
    overhead = 0.0
    mean_x, mean_y = audio / n, wall / n
    spread = sum((s[0] - mean_x) ** 2 for s in samples)
    if n >= MIN_FIT and spread > 1e-9:
        slope = sum((s[0] - mean_x) * (s[1] - mean_y) for s in samples) / spread
        overhead = min(max(0.0, mean_y - slope * mean_x), min(s[1] for s in samples))
    return WorkModel(
        overhead_sec=overhead,
        cost_per_audio_sec=(wall - n * overhead) / audio,
        pace=audio / wall,
        seconds_per_byte=audio / size if size > 0 else None,
        sample=n,
    )


def read_work_model(limit: int = SAMPLE) -> WorkModel | None:
    """Fit :class:`WorkModel` over the last ``limit`` done recordings' finishing attempts."""
    global _fitted
    read = list(
        Recording.select(
            Recording.id,
            Recording.attempt,
            Recording.duration_sec,
            Recording.size_bytes,
            Recording.updated_at,
        )
        .where(Recording.status == Status.DONE)
        .order_by(Recording.updated_at.desc(), Recording.id.desc())
        .limit(limit)
        .tuples()
    )
    if not read:
        return None
    done = [row[:4] for row in read]
    # The sample as it stands, on this database, down to when each was last written.
    key = (id(database_proxy.obj), tuple(read))
    if _fitted is not None and _fitted[0] == key:
        return _fitted[1]  # nothing finished since: the same sample, the same fit
    finishing = {rid: attempt for rid, attempt, _, _ in done}
    spans: dict[int, list] = {}
    decoded: set[int] = set()
    runs = StepRun.select(
        StepRun.recording,
        StepRun.attempt,
        StepRun.step,
        StepRun.started_at,
        StepRun.finished_at,
        StepRun.outcome,
    ).where(StepRun.recording.in_(list(finishing)))
    for rid, attempt, step, started, finished, outcome in runs.tuples():
        if attempt != finishing[rid] or finished is None:
            continue
        span = spans.setdefault(rid, [started, finished])
        span[0], span[1] = min(span[0], started), max(span[1], finished)
        if step == Step.TRANSCRIBE.value and outcome == StepOutcome.OK.value:
            decoded.add(rid)
    samples = [
        (duration, (spans[rid][1] - spans[rid][0]).total_seconds(), size)
        for rid, _, duration, size in done
        if rid in decoded and duration
    ]
    model = fit_work_model(samples)
    _fitted = (key, model)
    return model


# The last fit and the sample it was fitted on: a console refreshes every 2 s, and the
# sample changes only when a recording is done (one process, one cache: an assignment
# is atomic, and two threads fitting the same sample get the same model).
_fitted: tuple[tuple, WorkModel | None] | None = None


def _audio_of(duration: float | None, size: int, model: WorkModel | None) -> float | None:
    if duration is not None:
        return duration
    if model is None or model.seconds_per_byte is None:
        return None
    return size * model.seconds_per_byte


def _finish_time(jobs_left: list[float], queued_work: list[float], workers: int) -> float:
    """Seconds until the last job is done: running jobs first, then each queued job
    on the worker that comes free first."""
    free = sorted(jobs_left, reverse=True)[:workers]
    free += [0.0] * (workers - len(free))
    heapq.heapify(free)
    for work in queued_work:
        heapq.heapreplace(free, free[0] + work)
    return max(free)


def read_backlog(settings: Settings, workers: int | None, now: datetime) -> Backlog:
    """The backlog and its ETA; ``workers`` is the online transcribe workers (None: unknown).

    Reads the database only (bind it first); ``now`` is naive UTC, as stored.
    """
    model = read_work_model()
    queued, known_audio, unknown, unknown_bytes = (
        Recording.select(
            fn.COUNT(Recording.id),
            fn.SUM(Recording.duration_sec),
            fn.SUM(Case(None, [(Recording.duration_sec.is_null(), 1)], 0)),
            fn.SUM(Case(None, [(Recording.duration_sec.is_null(), Recording.size_bytes)], 0)),
        )
        .where(Recording.status == Status.QUEUED)
        .tuples()
        .get()
    )
    unknown = int(unknown or 0)
    queued_audio = float(known_audio or 0.0)
    rate = model.seconds_per_byte if model else None
    if unknown and rate is not None:
        queued_audio += float(unknown_bytes or 0) * rate

    running_left: list[float] = []
    remaining_audio = 0.0
    rows = Recording.select(
        Recording.processing_step,
        Recording.duration_sec,
        Recording.size_bytes,
        Recording.progress_ratio,
        Recording.estimated_finish_at,
        Recording.updated_at,
    ).where(Recording.status == Status.PROCESSING)
    processing = 0
    for step, duration, size, ratio, finish_at, written_at in rows.tuples():
        processing += 1
        audio = _audio_of(duration, size, model) or 0.0
        if step in _BEFORE_TRANSCRIBE:
            left, started = audio, False
        elif step == Step.TRANSCRIBE.value:
            done = live_progress(ratio, finish_at, written_at, now) or 0.0
            left, started = audio * (1 - done), True
        else:
            left, started = 0.0, True
        remaining_audio += left
        if model is not None:
            running_left.append(model.work(left, started))

    eta = None
    online = None if workers is None else min(workers, settings.max_in_flight)
    if model is not None and online:
        if queued <= SCHEDULE_LIMIT:
            queued_work = [
                model.work(_audio_of(duration, size, model) or 0.0)
                for duration, size in Recording.select(Recording.duration_sec, Recording.size_bytes)
                .where(Recording.status == Status.QUEUED)
                .order_by(Recording.updated_at, Recording.id)
                .tuples()
            ]
            eta = _finish_time(running_left, queued_work, online)
        else:
            total = sum(running_left) + queued * model.overhead_sec
            eta = (total + model.cost_per_audio_sec * queued_audio) / online
    return Backlog(
        queued=queued,
        queued_audio_sec=queued_audio,
        queued_estimated=unknown,
        processing=processing,
        processing_remaining_sec=remaining_audio,
        pace=model.pace if model else None,
        workers=online,
        eta_sec=eta,
    )
