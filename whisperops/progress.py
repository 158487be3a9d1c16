"""Estimated progress of the transcribe step: written by the worker, read by everyone.

The worker (writer side) counts decoded speech against the total and stores the
ratio and an estimated finish time; the console and the exporter (reader side)
carry that stored estimate forward to the moment they show it.

Before decoding starts the audio is read and VAD has found the speech, so the
seconds of speech to decode are known. Decoding reports how much of it is done (per
segment when sequential, per finished part of a batch when batched). What is left
costs ``pace`` wall seconds per speech second: the pace this job has shown so far,
blended with a prior (this worker's earlier jobs, else the calibration's figure)
that counts as PRIOR_WEIGHT_SPEECH_SEC of evidence, so the first minutes of a long
file and the whole of a short one are still estimated.

The ratio is elapsed / (elapsed + remaining): it moves with time between reports,
never moves backwards, and stays below 1 until the step is done. When the part
being decoded takes longer than the pace says, the remaining time is kept at a
tenth of what the pace predicts for the rest, instead of reaching zero: the
estimate slows down rather than sitting at 99%. In batched decoding the chunks
(their lengths known from VAD) are taken by the replicas as each comes free, so the
last ones run on fewer replicas than the pace was learned on: what is left is timed
as the replicas will work through it.
"""

from __future__ import annotations

import heapq
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from whisperops.clock import as_utc

PRIOR_WEIGHT_SPEECH_SEC = 30.0
CHUNK_SEC = 30.0
"""Batched decoding's chunks of speech are up to this long (VAD cuts at pauses)."""
MAX_RATIO_BEFORE_DONE = 0.99
"""No estimate says more than this until the step has really finished."""
_OVERDUE_FLOOR = 0.1

# Until a worker has calibrated or timed a job of its own: the bundled tiny.en int8
# on one core of this project's reference machine (wall seconds per speech second).
DEFAULT_PACE = {"sequential": 0.12, "batched": 0.06}


@dataclass(frozen=True)
class Estimate:
    ratio: float
    elapsed_sec: float
    remaining_sec: float | None


class PaceTracker:
    """Wall seconds per second of speech, per decoding mode, learned across a worker's jobs.

    The median of the last few jobs: one job that hit Whisper's temperature fallback
    (a window decoded several times over) must not skew the next estimate.
    """

    def __init__(self, keep: int = 9) -> None:
        self.keep = keep
        self.observed: dict[str, deque[float]] = {}
        self.initial: dict[str, float] = dict(DEFAULT_PACE)

    def seconds_per_speech_sec(self, mode: str) -> float | None:
        seen = self.observed.get(mode)
        return statistics.median(seen) if seen else self.initial.get(mode)

    def observe(self, mode: str, speech_sec: float, took_sec: float) -> None:
        # Under 5 s of speech the fixed costs dominate: no pace to learn from it.
        if speech_sec >= 5 and took_sec > 0:
            self.observed.setdefault(mode, deque(maxlen=self.keep)).append(took_sec / speech_sec)


class ProgressEstimator:
    """Tracks one transcription; decoding threads report, the heartbeat reads."""

    def __init__(
        self,
        speech_sec: float,
        seconds_per_speech_sec: float | None,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
        parallel: int = 1,
        chunks: Sequence[float] = (),
    ) -> None:
        self.speech_sec = max(speech_sec, 0.001)
        self.prior = seconds_per_speech_sec
        # Batched decoding runs this many chunks at once (one per model replica); the
        # pace is learned with all of them busy, but the last chunks run with fewer.
        self.parallel = max(1, parallel)
        # Seconds of speech in each chunk, in decoding order (else 30-s chunks).
        self.chunks = list(chunks) or _even_chunks(self.speech_sec)
        self.clock = clock
        # When the step began (reading the audio and VAD come before decoding and
        # are part of the time being estimated), and when decoding began.
        self.decoding_from = clock()
        self.started = self.decoding_from if started is None else started
        self.decoded_sec = 0.0
        self.decoded_at: float | None = None
        self.work_sec: float | None = None
        self.reports = 0
        self._last_ratio = 0.0
        self._lock = threading.Lock()

    def on_segment(self, decoded_sec: float, work_sec: float | None = None) -> None:
        """Decoding has reached ``decoded_sec`` seconds of the speech.

        Batched decoding also says how many replica-seconds the finished chunks took
        (``work_sec``): with chunks in flight on the other replicas, the wall time
        since the start would make the pace look slower than it is.
        """
        with self._lock:
            self.reports += 1
            if decoded_sec > self.decoded_sec:
                self.decoded_sec = min(decoded_sec, self.speech_sec)
                self.decoded_at = self.clock()
                self.work_sec = work_sec

    def pace(self) -> float | None:
        """Wall seconds per speech second: observed in this job, blended with the prior."""
        if self.decoded_at is None or self.decoded_sec <= 0:
            return self.prior
        if self.work_sec is not None:
            observed = self.work_sec / self.parallel / self.decoded_sec
        else:
            observed = (self.decoded_at - self.decoding_from) / self.decoded_sec
        if self.prior is None:
            return observed
        weight = self.decoded_sec
        return (self.prior * PRIOR_WEIGHT_SPEECH_SEC + observed * weight) / (
            PRIOR_WEIGHT_SPEECH_SEC + weight
        )

    def decoding_took(self) -> float:
        """Wall seconds decoding took, scaled to every replica busy: the unit paces are
        learned in. A 30-s call is one chunk, decoded on one of two replicas; counted
        as it is, it would make the next long recording's estimate twice too slow."""
        took = self.clock() - self.decoding_from
        busy = sum(self.chunks) / self.parallel
        return took * busy / max(_makespan(self.chunks, self.parallel), 0.001)

    def _in_flight(self, chunks_left: int) -> float:
        """Replica-seconds spent, by the last report, on chunks not reported yet."""
        if self.work_sec is None or self.decoded_at is None:
            return 0.0
        replicas = min(self.parallel, chunks_left)
        return max(0.0, (self.decoded_at - self.decoding_from) * replicas - self.work_sec)

    def estimate(self) -> Estimate:
        with self._lock:
            now = self.clock()
            elapsed = now - self.started
            pace = self.pace()
            if pace is None:
                return Estimate(self._last_ratio, elapsed, None)
            still = _still_to_decode(self.chunks, self.decoded_sec)
            # pace * parallel: one replica's seconds per second of speech. The other
            # replicas were part-way through their chunks at the last report.
            left = _makespan(still, self.parallel) * pace * self.parallel
            left = max(0.0, left - self._in_flight(len(still)) / self.parallel)
            since_report = now - (self.decoded_at or self.decoding_from)
            remaining = max(left - since_report, left * _OVERDUE_FLOOR)
            total = elapsed + remaining
            ratio = min(MAX_RATIO_BEFORE_DONE, elapsed / total) if total > 0 else 0.0
            self._last_ratio = max(self._last_ratio, ratio)
            return Estimate(self._last_ratio, elapsed, remaining)


def _even_chunks(speech_sec: float) -> list[float]:
    whole, rest = divmod(speech_sec, CHUNK_SEC)
    return [CHUNK_SEC] * int(whole) + ([rest] if rest > 0 else [])


def _still_to_decode(chunks: list[float], decoded_sec: float) -> list[float]:
    """The chunks (or the part of one) beyond the first ``decoded_sec`` seconds."""
    for i, chunk in enumerate(chunks):
        if decoded_sec < chunk - 1e-6:
            return [chunk - decoded_sec, *chunks[i + 1 :]]
        decoded_sec -= chunk
    return []


def _makespan(chunks: list[float], replicas: int) -> float:
    """Length of time, in chunk-seconds, until ``replicas`` workers that each take the
    next chunk as they come free have done them all."""
    free = [0.0] * replicas
    for chunk in chunks:
        heapq.heapreplace(free, free[0] + chunk)
    return max(free)


def live_progress(
    ratio: float | None, finish_at: datetime | None, written_at: datetime | None, now: datetime
) -> float | None:
    """The worker's last stored estimate carried forward to ``now``.

    The worker stores (ratio, estimated finish) with updated_at at each write; between
    writes the estimate moves linearly toward the finish, so a reader sees it keep
    moving without the worker writing more often.
    """
    if ratio is None:
        return None
    if finish_at is None or written_at is None:
        return ratio
    # Rows from the DB hold naive UTC, the schemas aware UTC: compare them as aware.
    now, finish_at, written_at = as_utc(now), as_utc(finish_at), as_utc(written_at)
    if finish_at <= written_at:
        return ratio
    share = (now - written_at) / (finish_at - written_at)
    return min(MAX_RATIO_BEFORE_DONE, ratio + (1 - ratio) * min(1.0, max(0.0, share)))
