"""The backlog: how much audio is left, and when it will be done at the recent pace.

* **Pace**: audio seconds per wall second per worker over the recent work, finished
  and running (:mod:`whisperops.pace`, where the why is measured).
* **Durations of queued recordings** are mostly unknown (the job's extract_metadata
  reads them): they are estimated from ``size_bytes`` at the seconds per byte of
  recent done recordings, and the result is marked as an estimate (``≈``). Known
  durations are used where present. A queue of a different format than the recent
  work (mp3 after wav) is estimated at the wrong rate until some of it is done.
* **Re-diarizations** (queued or running with ``resume_from_step``) are not part of
  it: they transcribe nothing.
* **Processing recordings**: in transcribe, ``duration * (1 - progress)`` of audio
  is left (the worker's estimate carried forward by ``live_progress``); before it,
  the whole recording; after it, nothing (the steps after it are part of the pace).
* **Workers**: the online transcribe workers, at most ``max_in_flight``. The ETA
  is the time until the last recording is done when each worker takes the next
  queued one (in enqueue order) as it comes free, starting from what each running
  job has left; so a short queue's tail (one long file on one worker while the
  others idle) is counted. Past :data:`SCHEDULE_LIMIT` queued rows the tail is a
  rounding error: the ETA is then the total work divided by the workers.

Every query goes through an index: the status indexes for queued, processing and
the recent done rows (the queued sums are covered by (status, duration_sec,
size_bytes)), (recording, attempt) for their step runs. Its cost follows the active
rows, not the table.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from peewee import Case, fn

from whisperops.config import Settings
from whisperops.models import Recording, Status, Step
from whisperops.pace import (
    BEFORE_TRANSCRIBE,
    RUNNING_COLUMNS,
    decoded_so_far,
    read_pace,
    seconds_per_byte,
)
from whisperops.text import format_duration

TRANSCRIPTION_QUEUED = (Recording.status == Status.QUEUED) & Recording.resume_from_step.is_null()
"""Queued recordings still to transcribe: a queued re-diarization keeps its transcript
(covered, with their durations and sizes, by the index of migration 0013)."""
SCHEDULE_LIMIT = 500
"""Queued recordings scheduled one by one onto the workers; beyond it, total / workers."""


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


def _audio_of(duration: float | None, size: int, rate: float | None) -> float | None:
    """The recording's duration, else estimated from its size at ``rate`` (seconds per byte)."""
    if duration is not None:
        return duration
    return None if rate is None else size * rate


def _audio_left(row: tuple, rate: float | None, now: datetime) -> float:
    """Audio a running recording (a :data:`RUNNING_COLUMNS` row) still has to transcribe:
    none past transcribe, or for a re-diarization."""
    step, resumed = row[1], row[8]
    if resumed is not None or (step not in BEFORE_TRANSCRIBE and step != Step.TRANSCRIBE.value):
        return 0.0
    return max(0.0, (_audio_of(row[2], row[3], rate) or 0.0) - decoded_so_far(row, now))


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
    running = list(
        Recording.select(*RUNNING_COLUMNS).where(Recording.status == Status.PROCESSING).tuples()
    )
    pace = read_pace(running, now)
    queued, known_audio, unknown, unknown_bytes = (
        Recording.select(
            fn.COUNT(Recording.id),
            fn.SUM(Recording.duration_sec),
            fn.SUM(Case(None, [(Recording.duration_sec.is_null(), 1)], 0)),
            fn.SUM(Case(None, [(Recording.duration_sec.is_null(), Recording.size_bytes)], 0)),
        )
        .where(TRANSCRIPTION_QUEUED)
        .tuples()
        .get()
    )
    unknown = int(unknown or 0)
    queued_audio = float(known_audio or 0.0)
    # The size estimate does not wait for a pace: the audio waiting is worth showing.
    rate = pace.seconds_per_byte if pace is not None else seconds_per_byte()
    if unknown and rate is not None:
        queued_audio += float(unknown_bytes or 0) * rate

    left = [_audio_left(row, rate, now) for row in running]
    eta = None
    online = None if workers is None else min(workers, settings.max_in_flight)
    if pace is not None and online:
        running_left = [pace.wall_sec(audio) for audio in left]
        if queued <= SCHEDULE_LIMIT:
            queued_work = [
                pace.wall_sec(_audio_of(duration, size, rate) or 0.0)
                for duration, size in Recording.select(Recording.duration_sec, Recording.size_bytes)
                .where(TRANSCRIPTION_QUEUED)
                .order_by(Recording.updated_at, Recording.id)
                .tuples()
            ]
            eta = _finish_time(running_left, queued_work, online)
        else:
            eta = (sum(running_left) + pace.wall_sec(queued_audio)) / online
    return Backlog(
        queued=queued,
        queued_audio_sec=queued_audio,
        queued_estimated=unknown,
        processing=len(running),
        processing_remaining_sec=sum(left),
        pace=pace.per_worker if pace else None,
        workers=online,
        eta_sec=eta,
    )
