"""Backend 'embeddings': speakers for any recording, on the plain install, offline.

Where the transcript has speech (its words' timings, or its segments where words
were not kept) the audio is cut into windows; each window's voice becomes an
embedding (the packaged GE2E encoder, speaker_encoder.py); the embeddings are
clustered into speakers with their number estimated (clustering.py); the windows'
labels make the speaker turns, which the diarization step cuts segments at. Windows
far quieter than the recording's speech (a pause inside a segment's times) are left
out of the clustering and take their neighbours' speaker.

The audio is streamed, never decoded whole, and only the features from the earliest
window not yet embedded on are held: memory is flat in the length (66 MB allocated at
the peak for two hours, docs/benchmarks.md), the embeddings (1 KB per window) aside.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from whisperops.pipeline.diarization.clustering import cluster_speakers
from whisperops.pipeline.diarization.protocol import Diarized, Skip
from whisperops.pipeline.diarization.speaker_encoder import (
    EMBEDDING_SIZE,
    FRAMES_PER_SEC,
    N_MELS,
    embed,
    level_normalised,
    mel_blocks,
    stream_samples,
)
from whisperops.pipeline.segments import Segment, SpeakerTurn

WINDOW_SEC = 1.6  # what the encoder was trained on
HOP_SEC = 0.4  # one embedding per this much speech
MIN_WINDOW_SEC = 0.4  # shorter speech is too little to tell a voice by
JOIN_GAP_SEC = 0.3  # words closer than this are one stretch of speech
MIN_SPEECH_SEC = 1.0  # less speech than this in the whole file: nothing to diarize
BATCH = 64  # windows per encoder call
# A window this far below the loud end of the recording (its 90th percentile) holds no
# voice: a segment's times can span a pause (Whisper's own timestamps, kept without
# words), and line noise embeds as a "speaker" of its own. Speech at the gains of one
# archive lies within 20 dB of it; the pauses of a phone line 33-48 dB below.
QUIET_BELOW_DB = 25.0


@dataclass(frozen=True)
class Window:
    start: float  # seconds
    end: float
    owns_start: float  # the stretch of time this window's label is given to
    owns_end: float
    region: int  # which stretch of speech it is in


def speech_regions(segments: list[Segment]) -> list[tuple[float, float]]:
    """Stretches of speech from the transcript: word timings where kept (words closer
    than JOIN_GAP_SEC joined), else each segment on its own (a segment boundary is
    where a speaker change most likely falls, so they are not joined)."""
    spans = sorted(
        (word.start, word.end, bool(segment.words))
        for segment in segments
        for word in (segment.words or [segment])
    )
    regions: list[list[float]] = []
    for start, end, is_word in spans:
        if end <= start:
            continue
        if is_word and regions and start - regions[-1][1] <= JOIN_GAP_SEC:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    return [(start, end) for start, end in regions]


def windows_over(regions: list[tuple[float, float]]) -> list[Window]:
    """WINDOW_SEC windows every HOP_SEC inside each region (a shorter region is one
    window of its own length); each owns the time nearest its centre."""
    windows = []
    for region, (start, end) in enumerate(regions):
        length = end - start
        if length < MIN_WINDOW_SEC:
            centre = (start + end) / 2
            half = MIN_WINDOW_SEC / 2
            windows.append(Window(max(0.0, centre - half), centre + half, start, end, region))
            continue
        if length <= WINDOW_SEC:
            windows.append(Window(start, end, start, end, region))
            continue
        steps = int(np.ceil((length - WINDOW_SEC) / HOP_SEC))
        starts = np.linspace(start, end - WINDOW_SEC, steps + 1)
        centres = starts + WINDOW_SEC / 2
        bounds = [start, *((centres[:-1] + centres[1:]) / 2), end]
        windows.extend(
            Window(float(s), float(s + WINDOW_SEC), float(bounds[i]), float(bounds[i + 1]), region)
            for i, s in enumerate(starts)
        )
    return windows


def window_embeddings(path: Path, windows: list[Window]) -> tuple[np.ndarray, np.ndarray]:
    """One embedding per window (in time order), each window's level normalised, and
    each window's level before that (dB).

    The audio is streamed: only the frames from the earliest window not yet embedded
    on are held, so memory follows the longest stretch between windows, not the file.
    """
    spans = [
        (
            round(w.start * FRAMES_PER_SEC),
            max(round(w.end * FRAMES_PER_SEC), 1 + round(w.start * FRAMES_PER_SEC)),
        )
        for w in windows
    ]
    embeddings = np.zeros((len(windows), EMBEDDING_SIZE), dtype=np.float32)
    levels = np.zeros(len(windows), dtype=np.float32)
    held_mel = np.zeros((0, N_MELS), dtype=np.float32)
    held_power = np.zeros(0, dtype=np.float32)
    held_from = 0  # frame index of held_mel[0]
    next_window = 0
    blocks = mel_blocks(stream_samples(path))
    finished = False
    while next_window < len(windows):
        block = next(blocks, None)
        if block is None:
            finished = True
        else:
            held_mel = np.concatenate([held_mel, block[0]])
            held_power = np.concatenate([held_power, block[1]])
        held_to = held_from + len(held_mel)
        ready = next_window
        while ready < len(windows) and (spans[ready][1] <= held_to or finished):
            ready += 1
        _embed_spans(
            embeddings, levels, range(next_window, ready), spans, held_mel, held_power, held_from
        )
        next_window = ready
        if next_window < len(windows):
            drop = max(0, min(spans[next_window][0], held_to) - held_from)
            held_mel, held_power, held_from = held_mel[drop:], held_power[drop:], held_from + drop
        if finished:
            break
    return embeddings, levels


def _embed_spans(
    embeddings: np.ndarray,
    levels: np.ndarray,
    indices: range,
    spans: list[tuple[int, int]],
    mel: np.ndarray,
    power: np.ndarray,
    offset: int,
) -> None:
    """Embed the windows ``indices`` from the held frames (``mel[0]`` is frame ``offset``)
    and note their levels, windows of one length batched together; a window past the
    end is cut short."""
    by_length: dict[int, list[tuple[int, int]]] = {}
    for index in indices:
        first = min(max(0, spans[index][0] - offset), max(0, len(mel) - 1))
        last = max(first + 1, min(spans[index][1] - offset, len(mel)))
        by_length.setdefault(last - first, []).append((index, first))
    for length, members in by_length.items():
        for chunk in range(0, len(members), BATCH):
            batch = members[chunk : chunk + BATCH]
            mels = np.stack(
                [
                    level_normalised(mel[first : first + length], power[first : first + length])
                    for _index, first in batch
                ]
            )
            indices_of_batch = [index for index, _first in batch]
            embeddings[indices_of_batch] = embed(mels)
            levels[indices_of_batch] = [
                level_db(power[first : first + length]) for _index, first in batch
            ]


def level_db(power: np.ndarray) -> float:
    """The level of a window's frames (-inf for none: a window past the end)."""
    return 10 * np.log10(float(np.mean(power)) + 1e-12) if len(power) else -np.inf


def turns_of(windows: list[Window], labels: np.ndarray) -> list[SpeakerTurn]:
    """Consecutive windows with one label, joined into turns labelled S1, S2, ..."""
    turns: list[SpeakerTurn] = []
    for window, label in zip(windows, labels, strict=True):
        speaker = f"S{int(label) + 1}"
        if turns and turns[-1].speaker == speaker and window.owns_start - turns[-1].end < 1e-6:
            turns[-1] = SpeakerTurn(turns[-1].start, window.owns_end, speaker)
        else:
            turns.append(SpeakerTurn(window.owns_start, window.owns_end, speaker))
    return turns


class EmbeddingDiarizer:
    """Speaker turns from voice embeddings clustered into an estimated number of speakers."""

    name = "embeddings"

    def __init__(self, min_speakers: int = 0, max_speakers: int = 0) -> None:
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers

    def diarize(self, path: Path, segments: list[Segment]) -> Diarized | Skip:
        regions = speech_regions(segments)
        speech = sum(end - start for start, end in regions)
        if speech < MIN_SPEECH_SEC:
            return Skip(
                f"{speech:.1f}s of transcribed speech: too little to tell voices apart",
                pending=False,
            )
        windows = windows_over(regions)
        embeddings, levels = window_embeddings(path, windows)
        voiced = voiced_windows(levels)
        weights = np.array([w.owns_end - w.owns_start for w in windows])
        groups = np.array([w.region for w in windows])
        clustering = cluster_speakers(
            embeddings[voiced],
            groups[voiced],
            weights[voiced],
            self.min_speakers,
            self.max_speakers,
        )
        labels = with_quiet_windows(voiced, clustering.labels)
        return Diarized(turns_of(windows, labels), clustering.count, clustering.decided)


def voiced_windows(levels: np.ndarray) -> np.ndarray:
    """The windows within QUIET_BELOW_DB of the recording's loud end (all, where no
    window has frames)."""
    heard = levels[np.isfinite(levels)]
    if not len(heard):
        return np.ones(len(levels), dtype=bool)
    return levels >= np.percentile(heard, 90) - QUIET_BELOW_DB


def with_quiet_windows(voiced: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Labels for every window: a quiet one takes the nearest voiced window's (the
    earlier one on a tie), so its time goes to whoever spoke next to it."""
    positions = np.flatnonzero(voiced)
    indices = np.arange(len(voiced))
    after = np.clip(np.searchsorted(positions, indices), 0, len(positions) - 1)
    before = np.clip(after - 1, 0, len(positions) - 1)
    nearer_before = np.abs(indices - positions[before]) <= np.abs(positions[after] - indices)
    return labels[np.where(nearer_before, before, after)]
