"""What one job knows about its recording as the steps run, and the worker-wide
state jobs share (the shutdown flag, the observed transcription pace)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from whisperops.config import Settings
from whisperops.models import Recording, Step, StepOutcome
from whisperops.ops.attempt import Fenced, FencedRecording
from whisperops.pipeline.media import AudioInfo
from whisperops.pipeline.segments import Segment
from whisperops.progress import PaceTracker, ProgressEstimator

pace = PaceTracker()
"""This worker's observed transcription pace, carried from job to job (the worker seeds
it with its calibration's figures)."""

shutdown_requested = threading.Event()
"""Set by the worker on SIGTERM: the running job releases its recording and returns."""

StepResult = tuple[StepOutcome, str | None]
"""What a step returns: its outcome and the detail shown in the step history."""


class ShutdownRequested(Exception):
    """The worker is stopping; the recording goes back to the queue."""


@dataclass
class JobState:
    recording: Recording
    settings: Settings
    fence: FencedRecording
    step: Step | None = None
    segments: list[Segment] = field(default_factory=list)
    audio: AudioInfo | None = None
    language: str | None = None
    language_probability: float | None = None
    estimator: ProgressEstimator | None = None
    model_name: str | None = None
    analytics: dict = field(default_factory=dict)
    diarization_error: str | None = None  # the failed diarization's message; the job goes on
    diarization_pending: bool = False
    fenced: threading.Event = field(default_factory=threading.Event)

    @property
    def who(self) -> str:
        return f"recording_id={self.recording.id} file_name={self.recording.file_name!r}"

    def check_fence(self) -> None:
        """Called between segments and steps: stop if superseded or if the worker stops."""
        if self.fenced.is_set():
            raise Fenced(f"recording {self.recording.id} attempt {self.fence.attempt} superseded")
        if shutdown_requested.is_set():
            raise ShutdownRequested("worker shutting down")
