"""Readable segments: long ones cut at punctuation and pauses so subtitle cues stay short.

Batched decoding gives one segment per chunk of speech (up to 30 s); sequential
decoding follows Whisper's timestamp tokens, mostly 1-5 s, but a fast talker can
give 10-30 s. Either is a wall of text as an SRT/VTT cue. Such a segment is cut in
two, recursively, where a sentence or clause ends and there is a pause, near the
middle; with word timings the cut falls exactly between two words, without them the
times are shared out by the length of the text.
"""

from __future__ import annotations

import re

from whisperops.pipeline.segments import Segment

MAX_CUE_SEC = 7.0
MAX_CUE_CHARS = 84
"""Two subtitle lines of 42 characters, the usual broadcast limit."""

_SENTENCE_END = ".?!"
_CLAUSE_END = ",;:"


def readable(segment: Segment) -> list[Segment]:
    """``segment`` as one or more segments of at most MAX_CUE_SEC and MAX_CUE_CHARS."""
    if segment.duration <= MAX_CUE_SEC and len(segment.text) <= MAX_CUE_CHARS:
        return [segment]
    halves = _cut_between_words(segment) if len(segment.words) > 1 else _cut_text(segment)
    if halves is None:
        return [segment]
    return [piece for half in halves for piece in readable(half)]


def _punctuation_weight(text: str) -> float:
    text = text.rstrip()
    if text.endswith(tuple(_SENTENCE_END)):
        return 2.0
    if text.endswith(tuple(_CLAUSE_END)):
        return 1.0
    return 0.0


def _cut_between_words(segment: Segment) -> tuple[Segment, Segment] | None:
    words = segment.words
    middle = (segment.start + segment.end) / 2
    span = max(segment.duration, 0.001)

    def score(i: int) -> float:
        pause = max(0.0, words[i].start - words[i - 1].end)
        off_centre = abs(words[i].start - middle) / span
        return _punctuation_weight(words[i - 1].text) + min(pause, 1.0) * 2 - off_centre * 3

    cut = max(range(1, len(words)), key=score)
    left, right = words[:cut], words[cut:]
    return (
        Segment(segment.start, left[-1].end, _joined(left), segment.speaker, left),
        Segment(right[0].start, segment.end, _joined(right), segment.speaker, right),
    )


def _joined(words) -> str:
    return "".join(word.text for word in words).strip()


def _cut_text(segment: Segment) -> tuple[Segment, Segment] | None:
    text = segment.text
    spaces = [match.start() for match in re.finditer(r" ", text)]
    if not spaces:
        return None
    middle = len(text) / 2

    def score(position: int) -> float:
        return _punctuation_weight(text[:position]) - abs(position - middle) / len(text) * 3

    cut = max(spaces, key=score)
    share = cut / len(text)
    at = segment.start + segment.duration * share
    return (
        Segment(segment.start, at, text[:cut].strip(), segment.speaker),
        Segment(at, segment.end, text[cut:].strip(), segment.speaker),
    )
