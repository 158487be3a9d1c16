"""Backend 'channel': one party per channel of a call recording, no model, no network.

Call recorders write the agent on one channel and the customer on the other, but each
channel also carries the other party faintly (bleed, echo, crosstalk on the line). So a
channel counts as speaking in a frame only when it is clearly above its own noise floor
AND not far below the other channel: bleed is typically 15-30 dB down, while two
people really talking at once are within a few dB of each other.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from whisperops.pipeline.diarization.protocol import Diarized, Skip, diarized
from whisperops.pipeline.segments import Segment, SpeakerTurn

ANALYSIS_RATE = 8000  # Hz; speech energy needs no more, and decoding stays cheap
FRAME_SEC = 0.02
SMOOTH_FRAMES = 5  # 100 ms moving average of frame energy, in dB
ABOVE_FLOOR_DB = 12.0  # speech must stand this far above the channel's noise floor...
SOFT_ABOVE_FLOOR_DB = 4.0  # ... somewhere; its quieter edges only this far
BELOW_PEAK_DB = 45.0  # ... and be no quieter than this under the channel's loud speech
DOMINANCE_MARGIN_DB = 8.0  # a channel this far below the other one is only bleed
SAME_AUDIO_DB = 3.0  # channels this close in level where there is sound are one mix
FILL_GAP_SEC = 0.5  # pauses between words and at commas do not end a turn
BLIP_SEC = 0.1  # shorter flickers are dropped before pauses are filled
MIN_TURN_SEC = 0.15  # clicks and breaths are not turns
ONE_MIX = "both channels carry the same audio (a mono mix saved as stereo)"


def frame_energies_db(path: Path) -> np.ndarray:
    """Energy in dB of each 20-ms frame of the first two channels: shape (2, frames).

    Streams the file through PyAV, so memory follows the number of frames, not
    the number of samples (a two-hour call is 360,000 frames).
    """
    hop = int(ANALYSIS_RATE * FRAME_SEC)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=ANALYSIS_RATE)
    energies: list[np.ndarray] = []
    carry = np.zeros((2, 0), dtype=np.float32)
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            for resampled in resampler.resample(frame):
                carry = np.concatenate([carry, resampled.to_ndarray()[:2]], axis=1)
                usable = carry.shape[1] - carry.shape[1] % hop
                if usable:
                    block = carry[:, :usable].reshape(2, -1, hop)
                    energies.append(np.mean(block.astype(np.float64) ** 2, axis=2))
                    carry = carry[:, usable:]
    if not energies:
        return np.zeros((2, 0))
    power = np.concatenate(energies, axis=1)
    return 10.0 * np.log10(power + 1e-12)


def _smooth(db: np.ndarray) -> np.ndarray:
    # Padded with the edge values: zero padding would read as loud (0 dB) at the ends.
    kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
    half = SMOOTH_FRAMES // 2
    padded = np.pad(db, ((0, 0), (half, SMOOTH_FRAMES - 1 - half)), mode="edge")
    return np.vstack([np.convolve(row, kernel, mode="valid") for row in padded])


def noise_floor(db: np.ndarray) -> np.ndarray:
    """Each channel's noise floor in dB, shape (2, 1)."""
    return np.percentile(db, 10, axis=1, keepdims=True)


def active_frames(db: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Boolean (2, frames): where each channel's own party is speaking, from the
    smoothed frame energies ``db`` and their ``noise_floor``.

    Hysteresis: a stretch of frames a little above the noise floor counts only if
    it reaches clearly above it somewhere, so soft word endings stay in the turn
    while noise bumps stay out. Bleed is judged on the energy above each channel's
    noise floor: near the floor both channels converge and would look alike.
    """
    peak = np.percentile(db, 99, axis=1, keepdims=True)
    # On a noisy line (little room between floor and peak) the margins shrink with it.
    room = peak - floor
    soft = db > np.maximum(
        floor + np.minimum(SOFT_ABOVE_FLOOR_DB, 0.2 * room), peak - BELOW_PEAK_DB
    )
    strong = db > np.maximum(floor + np.minimum(ABOVE_FLOOR_DB, 0.5 * room), peak - BELOW_PEAK_DB)
    excess = 10.0 * np.log10(np.maximum(10 ** (db / 10) - 10 ** (floor / 10), 1e-12))
    not_bleed = excess >= excess[::-1] - DOMINANCE_MARGIN_DB
    candidate = soft & not_bleed
    active = np.zeros_like(candidate)
    for channel in range(2):
        for start, end in _runs(candidate[channel]):
            if strong[channel, start:end].any():
                active[channel, start:end] = True
    return active


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame index pairs of the True runs."""
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2], edges[1::2], strict=True))


def turns_from_activity(active: np.ndarray, speakers: tuple[str, ...]) -> list[SpeakerTurn]:
    fill = round(FILL_GAP_SEC / FRAME_SEC)
    blip = round(BLIP_SEC / FRAME_SEC)
    shortest = round(MIN_TURN_SEC / FRAME_SEC)
    turns = []
    for channel, row in enumerate(active):
        # Blips go first, so that filling the pauses cannot chain them into a turn.
        merged: list[list[int]] = []
        for start, end in _runs(row):
            if end - start < blip:
                continue
            if merged and start - merged[-1][1] <= fill:
                merged[-1][1] = end
            else:
                merged.append([start, end])
        turns.extend(
            SpeakerTurn(start * FRAME_SEC, end * FRAME_SEC, speakers[channel])
            for start, end in merged
            if end - start >= shortest
        )
    return sorted(turns, key=lambda turn: (turn.start, turn.speaker))


class ChannelDiarizer:
    """Speaker = the channel that carries the speech; labels from channel_speaker_names."""

    name = "channel"

    def __init__(self, speaker_names: tuple[str, ...]) -> None:
        padded = [*speaker_names, *(f"channel_{n}" for n in range(len(speaker_names) + 1, 3))]
        self.speakers = tuple(padded[:2])

    def diarize(self, path: Path, segments: list[Segment] | None = None) -> Diarized | Skip:
        db = _smooth(frame_energies_db(path))
        floor = noise_floor(db)
        if carries_one_mix(db, floor):
            return Skip(ONE_MIX, pending=False)
        return diarized(turns_from_activity(active_frames(db, floor), self.speakers))


def carries_one_mix(db: np.ndarray, floor: np.ndarray) -> bool:
    """True when the two channels are the same mix (dual mono, or two microphones side
    by side): where there is sound they differ by a few dB at most, while a call
    recording's channels differ by the bleed, 15 dB and more, most of the time."""
    sound = (db > floor + SOFT_ABOVE_FLOOR_DB).any(axis=0)
    if not sound.any():
        return False  # silence: nothing to tell apart, and nothing to assign either
    return float(np.median(np.abs(db[0] - db[1])[sound])) < SAME_AUDIO_DB
