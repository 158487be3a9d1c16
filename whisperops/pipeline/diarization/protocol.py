"""What a diarization backend is: it returns speaker turns, or a Skip saying why not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from whisperops.pipeline.segments import Segment, SpeakerTurn


@dataclass(frozen=True)
class Skip:
    """Diarization does not run for this recording, and why.

    ``pending`` marks reasons that configuration or time can fix (no model yet, too
    long for this worker), so `whisperops rediarize --pending` finds the recording.
    """

    reason: str
    pending: bool


@dataclass(frozen=True)
class Diarized:
    """Speaker turns with how many speakers there are and how that number was decided
    (``estimated``, ``as set``, ``estimated within 2-4``; None where the backend's
    speakers are fixed, as the channel backend's)."""

    turns: list[SpeakerTurn]
    speakers: int
    decided: str | None = None


class Diarizer(Protocol):
    name: str

    def diarize(self, path: Path, segments: list[Segment]) -> Diarized | Skip:
        """Speaker turns for the recording at ``path`` whose transcript is ``segments``,
        or a Skip when what the audio holds rules this backend out."""
        ...


def diarized(turns: list[SpeakerTurn], decided: str | None = None) -> Diarized:
    return Diarized(turns, len({turn.speaker for turn in turns}), decided)
