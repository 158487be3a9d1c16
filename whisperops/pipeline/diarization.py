"""diarization: who spoke when, and which speaker each transcript segment belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from whisperops.pipeline.segments import Segment


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class DiarizationResult:
    """Speaker turns, or the reason none were produced (then the step is 'skipped')."""

    turns: list[SpeakerTurn]
    skipped_reason: str | None = None


class Diarizer(Protocol):
    def diarize(
        self, path: Path, channels: int | None, duration_sec: float
    ) -> DiarizationResult: ...


class NoDiarizer:
    """Backend 'none': assigns no speakers and says so in the step history."""

    def diarize(self, path: Path, channels: int | None, duration_sec: float) -> DiarizationResult:
        return DiarizationResult([], skipped_reason="diarization backend is 'none'")


def get_diarizer(backend: str) -> Diarizer:
    if backend == "none":
        return NoDiarizer()
    raise ValueError(f"unknown diarization backend {backend!r}")


def assign_speakers(
    segments: list[Segment], turns: list[SpeakerTurn], tolerance_sec: float = 0.5
) -> None:
    """Give each segment the speaker whose turns overlap it most.

    A segment that overlaps no turn takes the nearest turn's speaker if that turn
    is within ``tolerance_sec``; otherwise it keeps no speaker.
    """
    for segment in segments:
        overlap: dict[str, float] = {}
        for turn in turns:
            shared = min(segment.end, turn.end) - max(segment.start, turn.start)
            if shared > 0:
                overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
        if overlap:
            segment.speaker = max(overlap, key=overlap.__getitem__)
            continue
        nearest = min(
            turns,
            key=lambda turn: max(turn.start - segment.end, segment.start - turn.end),
            default=None,
        )
        if (
            nearest is not None
            and max(nearest.start - segment.end, segment.start - nearest.end) <= tolerance_sec
        ):
            segment.speaker = nearest.speaker
