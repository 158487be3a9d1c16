"""Estimated progress of the transcribe step, from decoded speech counted against the total.

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
estimate slows down rather than sitting at 99%. In batched decoding the last
chunks of a recording run on fewer replicas than the pace was learned on: what
is left is stretched accordingly.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

PRIOR_WEIGHT_SPEECH_SEC = 30.0
CHUNK_SEC = 30.0
"""Batched decoding's chunks of speech are up to this long (VAD cuts at pauses)."""
_MAX_RATIO_BEFORE_DONE = 0.99
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
    ) -> None:
        self.speech_sec = max(speech_sec, 0.001)
        self.prior = seconds_per_speech_sec
        # Batched decoding runs this many chunks at once (one per model replica); the
        # pace is learned with all of them busy, but the last chunks run with fewer.
        self.parallel = max(1, parallel)
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
        return took * min(self.parallel, _chunks(self.speech_sec)) / self.parallel

    def estimate(self) -> Estimate:
        with self._lock:
            now = self.clock()
            elapsed = now - self.started
            pace = self.pace()
            if pace is None:
                return Estimate(self._last_ratio, elapsed, None)
            speech_left = self.speech_sec - self.decoded_sec
            busy = min(self.parallel, _chunks(speech_left))
            left = speech_left * pace * self.parallel / busy
            since_report = now - (self.decoded_at or self.decoding_from)
            remaining = max(left - since_report, left * _OVERDUE_FLOOR)
            total = elapsed + remaining
            ratio = min(_MAX_RATIO_BEFORE_DONE, elapsed / total) if total > 0 else 0.0
            self._last_ratio = max(self._last_ratio, ratio)
            return Estimate(self._last_ratio, elapsed, remaining)


def _chunks(speech_sec: float) -> int:
    """Chunks batched decoding makes of this much speech (VAD cuts them a little short)."""
    return max(1, math.ceil(speech_sec / CHUNK_SEC - 0.1))
