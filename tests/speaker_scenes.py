"""Recordings with known speakers, built from real speech, and how well a diarization
did on them: the share of words given to the right speaker, and a frame-level DER.

Everything starts from the 30-s two-speaker phone call whisperops bundles
(pyannote.audio's sample.wav with its reference turns, speech-sample.rttm, MIT):
the call as it is, as 8 kHz mu-law telephone audio, a meeting of several copies at
different gains, its turns re-ordered into new timelines (seeds the backend was not
tuned on), a monologue of one speaker's turns, and a third voice (espeak-ng) joining.
Shared by tests/ and bench/diarization.py.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from scripts.stereo_calls import SAMPLE_RATE, read_wav_mono, resample, speak, trimmed, write_wav
from tests.real_speech import call_samples
from whisperops.pipeline.segments import Segment, SpeakerTurn
from whisperops.pipeline.transcriber import SPEECH_SAMPLE

REFERENCE_RTTM = SPEECH_SAMPLE.with_suffix(".rttm")
MIN_CLIP_SEC = 0.3  # shorter single-voice stretches between overlaps are left out
THIRD_VOICE_LINES = [
    "Sorry to interrupt, this is Paul from the office joining the call.",
    "I just wanted to say that the meeting moved to Thursday afternoon.",
    "Could one of you send me the notes from last week, please?",
    "Thanks, I will let you two carry on now, talk to you later.",
]


@dataclass(frozen=True)
class Scene:
    name: str
    path: Path
    turns: list[SpeakerTurn]  # the truth

    @property
    def speakers(self) -> int:
        return len({turn.speaker for turn in self.turns})


def reference_turns() -> list[SpeakerTurn]:
    rows = [line.split() for line in REFERENCE_RTTM.read_text().splitlines() if line.strip()]
    names = {label: f"sp{i + 1}" for i, label in enumerate(sorted({row[7] for row in rows}))}
    return [
        SpeakerTurn(float(row[3]), float(row[3]) + float(row[4]), names[row[7]]) for row in rows
    ]


def _clips() -> list[tuple[str, np.ndarray]]:
    """The stretches of each reference turn where that speaker alone talks (at least
    MIN_CLIP_SEC): a clip cut with another voice inside it would carry that voice into
    a timeline whose truth says one speaker (a "monologue" of sp1 would hold 20% of
    sp2's voice), so the parts where turns overlap are left out."""
    audio = call_samples()
    turns = reference_turns()
    clips = []
    for turn in turns:
        pieces = [(turn.start, turn.end)]
        for other in turns:
            if other.speaker == turn.speaker:
                continue
            pieces = [
                part
                for start, end in pieces
                for part in ((start, min(end, other.start)), (max(start, other.end), end))
                if part[1] - part[0] > 0
            ]
        clips += [
            (turn.speaker, audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)])
            for start, end in pieces
            if end - start >= MIN_CLIP_SEC
        ]
    return clips


def _laid_out(
    path: Path, clips: list[tuple[str, np.ndarray]], seed: int, gains: tuple[float, ...] = (1.0,)
) -> Scene:
    """Clips one after another with pauses of 0.3-0.9 s, each at the next gain."""
    rng = random.Random(seed)
    parts, turns, cursor = [np.zeros(int(0.5 * SAMPLE_RATE), dtype=np.float32)], [], 0.5
    for index, (speaker, clip) in enumerate(clips):
        parts.append(clip * gains[index % len(gains)])
        turns.append(SpeakerTurn(cursor, cursor + len(clip) / SAMPLE_RATE, speaker))
        cursor += len(clip) / SAMPLE_RATE
        pause = rng.uniform(0.3, 0.9)
        parts.append(np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32))
        cursor += int(pause * SAMPLE_RATE) / SAMPLE_RATE
    write_wav(path, np.concatenate(parts))
    return Scene(path.stem, path, turns)


def the_call(folder: Path) -> Scene:
    return Scene("call", write_wav(folder / "call.wav", call_samples()), reference_turns())


def telephone_call(folder: Path) -> Scene:
    """The call as 8 kHz mu-law, as telephone systems record it."""
    audio = call_samples()
    narrow = np.interp(
        np.arange(0, len(audio), 2), np.arange(len(audio)), audio
    )  # 16 -> 8 kHz (the sample is band-limited to a phone line already)
    pcm = (np.clip(narrow, -1, 1) * 32767).astype(np.int16)
    path = folder / "telephone.wav"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_mulaw", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return Scene("telephone", path, reference_turns())


def meeting(folder: Path, copies: int = 3, gains: tuple[float, ...] = (1.0, 0.4, 1.8)) -> Scene:
    """Several copies of the call one after another, each at its own gain."""
    audio, truth = call_samples(), reference_turns()
    parts, turns = [], []
    for index in range(copies):
        parts.append(audio * gains[index % len(gains)])
        offset = index * len(audio) / SAMPLE_RATE
        turns += [SpeakerTurn(t.start + offset, t.end + offset, t.speaker) for t in truth]
    write_wav(folder / "meeting.wav", np.concatenate(parts))
    return Scene("meeting", folder / "meeting.wav", turns)


def reordered(folder: Path, seed: int, rounds: int = 2) -> Scene:
    """The call's turns shuffled into a new timeline (``rounds`` passes over them)."""
    rng = random.Random(seed)
    clips = _clips() * rounds  # the sample decoded once, not once a round
    rng.shuffle(clips)
    return _laid_out(folder / f"reordered-{seed}.wav", clips, seed, gains=(1.0, 0.7, 1.3))


def monologue(folder: Path, speaker: str = "sp2", seed: int = 3, rounds: int = 3) -> Scene:
    """One speaker's turns only, ``rounds`` times over in an order shuffled by ``seed``,
    at different gains."""
    clips = [clip for clip in _clips() if clip[0] == speaker] * rounds
    random.Random(seed).shuffle(clips)
    path = folder / f"monologue-{speaker}-{seed}.wav"
    return _laid_out(path, clips, seed, gains=(1.0, 0.6, 1.4))


def three_voices(folder: Path, seed: int = 11) -> Scene:
    """The re-ordered call with a third person (espeak-ng) speaking between turns."""
    rng = random.Random(seed)
    clips = _clips() * 2
    rng.shuffle(clips)
    for index, line in enumerate(THIRD_VOICE_LINES):
        spoken = speak(folder / f"third-{index}.wav", line, voice="en-gb+m3")
        audio, rate = read_wav_mono(spoken)
        clips.insert(2 + index * 4, ("sp3", trimmed(resample(audio, rate)) * 0.5))
    return _laid_out(folder / f"three-{seed}.wav", clips, seed)


def word_accuracy(segments: list[Segment], truth: list[SpeakerTurn]) -> tuple[float, int]:
    """The share of words (inside exactly one reference turn, by their midpoint) given
    to the right speaker under the best one-to-one mapping of labels, and how many
    words were scored. Segments without words count as one word each."""
    pairs = []
    for segment in segments:
        for word in segment.words or [segment]:
            middle = (word.start + word.end) / 2
            inside = {t.speaker for t in truth if t.start <= middle <= t.end}
            if len(inside) == 1:
                pairs.append((inside.pop(), segment.speaker))
    if not pairs:
        return 0.0, 0
    return _best_mapping_share(pairs), len(pairs)


def _best_mapping_share(pairs: list[tuple[str, str | None]]) -> float:
    true_labels = sorted({t for t, _ in pairs})
    hyp_labels = sorted({h for _, h in pairs if h is not None})
    best = 0
    slots = hyp_labels + [None] * len(true_labels)
    for chosen in itertools.permutations(slots, len(true_labels)):
        mapping = dict(zip(true_labels, chosen, strict=True))
        right = sum(1 for t, h in pairs if h is not None and mapping[t] == h)
        best = max(best, right)
    return best / len(pairs)


def frame_der(
    reference: list[SpeakerTurn], hypothesis: list[SpeakerTurn], collar: float = 0.25
) -> float:
    """Diarization error rate over 10-ms frames: (missed + false alarm + confusion) /
    reference speech, labels mapped one-to-one at best, frames within ``collar`` of a
    reference boundary not scored (pyannote.metrics' collar, where it is not installed)."""
    step = 0.01
    end = max([t.end for t in reference + hypothesis] + [0.0])
    frames = int(np.ceil(end / step)) + 1
    times = np.arange(frames) * step
    scored = np.ones(frames, dtype=bool)
    for turn in reference:
        for edge in (turn.start, turn.end):
            scored &= np.abs(times - edge) > collar

    def activity(turns: list[SpeakerTurn]) -> dict[str, np.ndarray]:
        result: dict[str, np.ndarray] = {}
        for turn in turns:
            row = result.setdefault(turn.speaker, np.zeros(frames, dtype=bool))
            row[(times >= turn.start) & (times < turn.end)] = True
        return result

    ref, hyp = activity(reference), activity(hypothesis)
    ref_count = sum(row.astype(int) for row in ref.values()) if ref else np.zeros(frames)
    hyp_count = sum(row.astype(int) for row in hyp.values()) if hyp else np.zeros(frames)
    total = float((ref_count * scored).sum())
    if total == 0:
        return 0.0
    best_correct = 0.0
    ref_names, hyp_names = list(ref), [*hyp, *([None] * len(ref))]
    for chosen in itertools.permutations(hyp_names, len(ref_names)):
        correct = sum(
            float((ref[r] & hyp[h] & scored).sum())
            for r, h in zip(ref_names, chosen, strict=True)
            if h is not None
        )
        best_correct = max(best_correct, correct)
    errors = np.maximum(ref_count, hyp_count) * scored
    return (float(errors.sum()) - best_correct) / total


def scenes(
    folder: Path, seeds: tuple[int, ...] = (1, 2), monologue_seeds: tuple[int, ...] = (3,)
) -> list[Scene]:
    """Every kind of scene: re-orderings for each of ``seeds``, both speakers' monologues
    for each of ``monologue_seeds``."""
    folder.mkdir(parents=True, exist_ok=True)
    built = [the_call(folder), telephone_call(folder), meeting(folder)]
    built += [reordered(folder, seed) for seed in seeds]
    built += [monologue(folder, who, seed) for seed in monologue_seeds for who in ("sp1", "sp2")]
    return [*built, three_voices(folder)]


Transcribe = Callable[[Path], list[Segment]]
