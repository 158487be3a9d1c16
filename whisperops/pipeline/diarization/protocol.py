"""What a diarization backend is: it returns speaker turns, or a Skip saying why not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from whisperops.pipeline.segments import SpeakerTurn


@dataclass(frozen=True)
class Skip:
    """Diarization does not run for this recording, and why.

    ``pending`` marks reasons that configuration or time can fix (no model yet, too
    long for this worker), so `whisperops rediarize --pending` finds the recording.
    """

    reason: str
    pending: bool


class Diarizer(Protocol):
    name: str

    def diarize(self, path: Path) -> list[SpeakerTurn] | Skip:
        """Speaker turns, or a Skip when what the audio holds rules this backend out."""
        ...
