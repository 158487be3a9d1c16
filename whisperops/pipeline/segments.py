"""The transcript segment as the pipeline passes it between steps."""

from __future__ import annotations

import json
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


def words_json(words: list[Word]) -> str | None:
    """A segment's words as stored in transcript_segments.words_json (None without words)."""
    if not words:
        return None
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text] for w in words])


def words_from_json(text: str | None) -> list[Word]:
    return [Word(start, end, word) for start, end, word in json.loads(text)] if text else []
