"""The transcript segment as the pipeline passes it between steps."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Word:
    """One word with its timing (faster-whisper word timestamps); text keeps its space."""

    start: float
    end: float
    text: str


@dataclass
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    # Empty when no diarization backend asked for word timings.
    words: list[Word] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    def without_words(self) -> Segment:
        return replace(self, words=[]) if self.words else self


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time in which one speaker talks, as a diarization backend found it."""

    start: float
    end: float
    speaker: str
