"""Estimated progress of the transcribe step.

Two sources of evidence, combined so the estimate holds for short and long files:

* position: faster-whisper decodes 30-second windows in order, and each segment
  says which window (``segment.seek``) it came from. Once window k has produced
  segments, decoding has reached its end; elapsed time at that point, scaled by
  audio left, predicts the total. On long files this gets accurate within a few
  windows; on a 30-second file all segments arrive at the very end, so it says
  nothing until it is over.
* pace: the seconds per decoding window this worker observed on earlier jobs, times
  the windows this file needs, predicts the total from the start — what short files
  need. Windows, not audio seconds: a window costs about the same whether it holds
  20 or 30 seconds of speech, and a 28-second file that needs a second window
  (its first ended early) does not make the next files look slow.

The predicted totals are averaged, weighting the pace prior as one window's worth
of evidence and the position by the number of windows decoded. The ratio is
elapsed / predicted total, never moves backwards, and stays below 1 until done.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SEC = 30.0
FRAMES_PER_SEC = 100  # faster-whisper's mel frames: segment.seek is in these

# Until a worker has timed a job of its own: tiny.en int8 on 2 CPU cores takes
# about 2.5 s per 30-second window; larger models learn their own pace after one job.
DEFAULT_SECONDS_PER_WINDOW = 2.5
_MAX_RATIO_BEFORE_DONE = 0.99


@dataclass(frozen=True)
class Estimate:
    ratio: float
    elapsed_sec: float
    remaining_sec: float | None


class PaceTracker:
    """Seconds of transcription per decoding window, learned across a worker's jobs.

    The median of the last few jobs: one job that hit Whisper's temperature
    fallback (a window decoded several times over) must not skew the next estimate.
    """

    def __init__(self, initial: float | None = DEFAULT_SECONDS_PER_WINDOW, keep: int = 9):
        self.initial = initial
        self.observed: deque[float] = deque(maxlen=keep)

    @property
    def seconds_per_window(self) -> float | None:
        return statistics.median(self.observed) if self.observed else self.initial

    def observe(self, windows: int, took_sec: float) -> None:
        if windows > 0 and took_sec > 0:
            self.observed.append(took_sec / windows)


def expected_windows(decode_duration_sec: float) -> int:
    return max(1, math.ceil(decode_duration_sec / WINDOW_SEC))


class ProgressEstimator:
    """Tracks one transcription; thread-safe enough for the heartbeat to read it."""

    def __init__(
        self,
        duration_sec: float,
        decode_duration_sec: float | None = None,
        seconds_per_window: float | None = DEFAULT_SECONDS_PER_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> None:
        self.duration_sec = max(duration_sec, 0.001)
        # With VAD on, windows (and segment.seek) run over the speech-only audio.
        self.decode_duration_sec = max(decode_duration_sec or duration_sec, 0.001)
        self.seconds_per_window = seconds_per_window
        self.clock = clock
        # When the step began: decoding the file, VAD and language detection happen
        # before the first window, and they are part of the time being estimated.
        self.started = clock() if started is None else started
        self.segments = 0
        self.windows: set[int] = set()  # decoding windows seen (by their seek)
        self._decoded_sec = 0.0
        self._decoded_at: float | None = None
        self._last_ratio = 0.0

    def on_segment(self, seek_frames: int) -> None:
        self.segments += 1
        self.windows.add(seek_frames)
        window_end = min(self.decode_duration_sec, seek_frames / FRAMES_PER_SEC + WINDOW_SEC)
        if window_end > self._decoded_sec:
            self._decoded_sec = window_end
            self._decoded_at = self.clock()

    def estimate(self) -> Estimate:
        now = self.clock()
        elapsed = now - self.started
        totals: list[tuple[float, float]] = []  # (predicted total seconds, weight)
        if self.seconds_per_window:
            prior = self.seconds_per_window * expected_windows(self.decode_duration_sec)
            totals.append((prior, 1.0))
        if self._decoded_at is not None and self._decoded_sec > 0:
            took = self._decoded_at - self.started
            predicted = took * self.decode_duration_sec / self._decoded_sec
            totals.append((predicted, self._decoded_sec / WINDOW_SEC))
        if not totals:
            return Estimate(self._last_ratio, elapsed, None)
        weight = sum(w for _, w in totals)
        total = sum(t * w for t, w in totals) / weight
        ratio = min(_MAX_RATIO_BEFORE_DONE, elapsed / total) if total > 0 else 0.0
        self._last_ratio = max(self._last_ratio, ratio)
        return Estimate(self._last_ratio, elapsed, max(0.0, total - elapsed))
