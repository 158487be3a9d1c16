"""The pace the workers have shown recently: audio seconds per wall second per worker.

Taken over a recent window (:data:`WINDOW`) of the attempts that worked in it,
finished AND still running:

* a finished attempt (a DONE recording, its span from the claim to processed_at)
  counts all its audio;
* a running one counts the audio it has decoded so far (the worker's progress,
  carried forward by ``live_progress``) over the time since its claim;
* each contributes the part of its audio and of its wall time that falls in the
  window, pro rata.

Why running attempts count: right after a start, the recordings that have finished
are the short ones (a 30-s call is done before a 2-h meeting is a quarter through),
and their fixed cost per file (probing, loading, language detection) makes the
archive look slower than it is. Measured on real speech (bench/backlog_eta.py,
30 recordings through 2 worker processes): from finished recordings only, a plain
ratio said +38% and a fitted "overhead + cost per second" said -37% after the first
5; counting the running work as well is what brought it within the target.

Re-diarizations are left out, finished (no transcribe run in their attempt) and
running (``resume_from_step`` set): they decode nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from whisperops.models import Recording, Status, Step, StepOutcome, StepRun
from whisperops.progress import live_progress

WINDOW = timedelta(minutes=15)
"""How far back the pace looks: long enough to hold several long files, short enough
to follow a change (another model, workers added or gone)."""
FINISHED_LIMIT = 100
"""At most this many finished attempts (the latest); a busier window is shortened to
the time they cover."""
MIN_BUSY_SEC = 5.0
"""Less worker time than this in the window says nothing yet: pace unknown."""
SIZE_SAMPLE = 30
"""Done recordings the seconds per byte of file are taken from (for queued ones
whose duration is not read yet)."""
BEFORE_TRANSCRIBE = {None, Step.PARSE_METADATA.value, Step.EXTRACT_METADATA.value}


@dataclass(frozen=True)
class Attempt:
    """How far one attempt got: the audio it decoded between ``started`` and ``until``."""

    audio_sec: float
    started: datetime
    until: datetime  # processed_at when finished; now while running


@dataclass(frozen=True)
class Pace:
    audio_sec: float  # audio decoded inside the window
    busy_sec: float  # worker-seconds spent inside the window
    attempts: int
    seconds_per_byte: float | None  # audio per byte of file, of the window's done ones

    @property
    def per_worker(self) -> float:
        """Audio seconds per wall second, per worker."""
        return self.audio_sec / self.busy_sec

    def wall_sec(self, audio_sec: float) -> float:
        """Wall seconds one worker needs for ``audio_sec`` of audio at this pace."""
        return audio_sec / self.per_worker


def pace_over(attempts: Iterable[Attempt], since: datetime) -> tuple[float, float, int]:
    """(audio, busy seconds, attempts) inside the window that starts at ``since``.

    Each attempt's audio is spread evenly over its span; the part of the span inside
    the window brings that share of its audio.
    """
    audio = busy = 0.0
    counted = 0
    for attempt in attempts:
        span = (attempt.until - attempt.started).total_seconds()
        inside = (attempt.until - max(attempt.started, since)).total_seconds()
        if span <= 0 or inside <= 0:
            continue
        audio += attempt.audio_sec * inside / span
        busy += inside
        counted += 1
    return audio, busy, counted


def decoded_so_far(row: tuple, now: datetime) -> float:
    """Audio a running attempt has decoded, from a :data:`RUNNING_COLUMNS` row."""
    _id, step, duration, _size, ratio, finish_at, written_at, _started, resumed = row
    if not duration or step in BEFORE_TRANSCRIBE or resumed is not None:
        # A re-diarization decodes nothing: its transcript is kept.
        return 0.0
    if step == Step.TRANSCRIBE.value:
        return duration * (live_progress(ratio, finish_at, written_at, now) or 0.0)
    return duration  # past transcribe: all of it


RUNNING_COLUMNS = (
    Recording.id,
    Recording.processing_step,
    Recording.duration_sec,
    Recording.size_bytes,
    Recording.progress_ratio,
    Recording.estimated_finish_at,
    Recording.updated_at,
    Recording.processing_started_at,
    Recording.resume_from_step,
)
"""What :func:`read_pace` needs of each processing recording (the backlog reads them too)."""


def _finished_attempts(since: datetime) -> tuple[list[Attempt], datetime, float | None]:
    """The latest finished attempts in the window that decoded audio, where the window
    starts (later than ``since`` when there were more than the limit), and their
    audio seconds per byte of file."""
    rows = list(
        Recording.select(
            Recording.id,
            Recording.attempt,
            Recording.duration_sec,
            Recording.processing_started_at,
            Recording.processed_at,
            Recording.size_bytes,
        )
        .where((Recording.status == Status.DONE) & (Recording.processed_at >= since))
        .order_by(Recording.processed_at.desc())
        .limit(FINISHED_LIMIT)
        .tuples()
    )
    if len(rows) == FINISHED_LIMIT:
        since = rows[-1][4]
    attempt_of = {rid: attempt for rid, attempt, *_ in rows}
    transcribed = StepRun.select(StepRun.recording, StepRun.attempt).where(
        StepRun.recording.in_(list(attempt_of))
        & (StepRun.step == Step.TRANSCRIBE.value)
        & (StepRun.outcome == StepOutcome.OK.value)
    )
    decoded = (
        {rid for rid, attempt in transcribed.tuples() if attempt_of[rid] == attempt}
        if attempt_of
        else set()
    )
    used = [row for row in rows if row[0] in decoded and row[2] and row[3] is not None]
    attempts = [Attempt(row[2], row[3], row[4]) for row in used]
    size = sum(row[5] for row in used)
    return attempts, since, (sum(a.audio_sec for a in attempts) / size if size else None)


def seconds_per_byte() -> float | None:
    """Audio seconds per byte of the latest done recordings (none done in the window)."""
    recent = (
        Recording.select(Recording.duration_sec, Recording.size_bytes)
        .where(Recording.status == Status.DONE)
        .order_by(Recording.updated_at.desc(), Recording.id.desc())
        .limit(SIZE_SAMPLE)
        .tuples()
    )
    known = [(duration, size) for duration, size in recent if duration and size]
    total_size = sum(size for _, size in known)
    return sum(duration for duration, _ in known) / total_size if total_size else None


def read_pace(running: list[tuple], now: datetime) -> Pace | None:
    """The recent pace; ``running`` are the processing rows (:data:`RUNNING_COLUMNS`).

    None until the window holds :data:`MIN_BUSY_SEC` of work.
    """
    finished, since, window_rate = _finished_attempts(now - WINDOW)
    in_flight = [
        Attempt(decoded_so_far(row, now), row[7], now)
        for row in running
        if row[7] is not None and row[8] is None  # claimed, and not a re-diarization
    ]
    audio, busy, counted = pace_over([*finished, *in_flight], since)
    if busy < MIN_BUSY_SEC or audio <= 0:
        return None
    return Pace(audio, busy, counted, window_rate or seconds_per_byte())
