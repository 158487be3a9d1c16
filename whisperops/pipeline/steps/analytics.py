"""Step analytics: talk, silence, speakers and pace, computed from the transcript segments."""

from __future__ import annotations

import json

from whisperops.models import StepOutcome
from whisperops.pipeline.job_state import JobState, StepResult
from whisperops.pipeline.segments import Segment

LONG_SILENCE_SEC = 5.0


def _speech_intervals(segments: list[Segment]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.end <= segment.start:
            continue
        if merged and segment.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], segment.end)
        else:
            merged.append([segment.start, segment.end])
    return [(start, end) for start, end in merged]


def compute_analytics(segments: list[Segment], duration_sec: float) -> dict:
    """Speech/silence time and ratio, per-speaker talk time and turns, long silences,
    words per minute of speech, and segment statistics."""
    intervals = _speech_intervals(segments)
    speech = sum(end - start for start, end in intervals)
    duration = max(duration_sec, intervals[-1][1] if intervals else 0.0)
    silence = max(0.0, duration - speech)

    silences = []
    cursor = 0.0
    for start, end in [*intervals, (duration, duration)]:
        if start - cursor >= LONG_SILENCE_SEC:
            silences.append(
                {
                    "start": round(cursor, 2),
                    "end": round(start, 2),
                    "duration": round(start - cursor, 2),
                }
            )
        cursor = max(cursor, end)

    talk: dict[str, float] = {}
    turns: dict[str, int] = {}
    previous = None
    for segment in sorted(segments, key=lambda s: s.start):
        if segment.speaker is None:
            continue
        talk[segment.speaker] = talk.get(segment.speaker, 0.0) + segment.duration
        if segment.speaker != previous:
            turns[segment.speaker] = turns.get(segment.speaker, 0) + 1
            previous = segment.speaker

    words = sum(len(segment.text.split()) for segment in segments)
    return {
        "duration_sec": round(duration, 2),
        "speech_sec": round(speech, 2),
        "silence_sec": round(silence, 2),
        "talk_silence_ratio": round(speech / silence, 3) if silence > 0 else None,
        "speaker_talk_sec": {speaker: round(sec, 2) for speaker, sec in sorted(talk.items())},
        "speaker_turns": dict(sorted(turns.items())),
        "total_turns": sum(turns.values()),
        "long_silences": silences,
        "word_count": words,
        "words_per_minute": round(words / (speech / 60), 1) if speech > 0 else None,
        "segment_count": len(segments),
        "mean_segment_sec": (
            round(sum(s.duration for s in segments) / len(segments), 2) if segments else None
        ),
    }


def analytics(state: JobState) -> StepResult:
    duration = state.audio.duration_sec if state.audio else 0.0
    state.analytics = compute_analytics(state.segments, duration)
    state.fence.update(analytics_json=json.dumps(state.analytics))
    return StepOutcome.OK, None
