"""Which speaker each transcript segment belongs to, from the backend's speaker turns;
segments that span a speaker change are split at the word where it happens."""

from __future__ import annotations

import dataclasses

from whisperops.pipeline.segments import Segment, SpeakerTurn, Word


def _gap(start: float, end: float, turn: SpeakerTurn) -> float:
    return max(turn.start - end, start - turn.end)


def speaker_of(
    start: float, end: float, turns: list[SpeakerTurn], tolerance_sec: float
) -> str | None:
    """The speaker whose turns overlap [start, end] most; else the nearest turn's
    speaker if it is within ``tolerance_sec``; else None."""
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=overlap.__getitem__)
    nearest = min(turns, key=lambda turn: _gap(start, end, turn), default=None)
    if nearest is not None and _gap(start, end, nearest) <= tolerance_sec:
        return nearest.speaker
    return None


def _word_speakers(segment: Segment, turns: list[SpeakerTurn], tolerance_sec: float) -> list:
    # Only overlap counts for a word: word timings drift by a few hundred ms, so a
    # word between turns belongs with its neighbours, not with the nearest turn.
    speakers = [speaker_of(w.start, w.end, turns, 0.0) for w in segment.words]
    for index in range(1, len(speakers)):
        speakers[index] = speakers[index] or speakers[index - 1]
    for index in range(len(speakers) - 2, -1, -1):
        speakers[index] = speakers[index] or speakers[index + 1]
    # A single word between two of the other speaker's is timing jitter.
    for index in range(1, len(speakers) - 1):
        if speakers[index - 1] == speakers[index + 1] != speakers[index]:
            speakers[index] = speakers[index - 1]
    if not any(speakers):
        whole = speaker_of(segment.start, segment.end, turns, tolerance_sec)
        speakers = [whole] * len(speakers)
    return speakers


def assign_speakers(
    segments: list[Segment], turns: list[SpeakerTurn], tolerance_sec: float = 0.5
) -> list[Segment]:
    """The segments with speakers, split where the speaker changes within one.

    With word timings, each word takes the speaker whose turns overlap it most and a
    segment is cut between words of different speakers; without, the whole segment
    takes that speaker. Either way a stretch that overlaps no turn takes the nearest
    turn's speaker within ``tolerance_sec``, else none. No turns: no speakers.
    """
    result = []
    for segment in segments:
        if not segment.words:
            speaker = speaker_of(segment.start, segment.end, turns, tolerance_sec)
            result.append(dataclasses.replace(segment, speaker=speaker))
            continue
        runs: list[tuple[str | None, list[Word]]] = []
        for word, speaker in zip(
            segment.words, _word_speakers(segment, turns, tolerance_sec), strict=True
        ):
            if runs and runs[-1][0] == speaker:
                runs[-1][1].append(word)
            else:
                runs.append((speaker, [word]))
        if len(runs) == 1:
            result.append(dataclasses.replace(segment, speaker=runs[0][0]))
            continue
        result.extend(
            Segment(
                start=words[0].start,
                end=words[-1].end,
                text="".join(word.text for word in words).strip(),
                speaker=speaker,
                words=words,
            )
            for speaker, words in runs
        )
    return result
