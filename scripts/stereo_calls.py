"""Dual-channel call recordings with known speaker turns, built from real speech.

The demo's call (``python -m scripts.stereo_calls OUT.wav``, run from the repository
root by scripts/demo.sh); the tests and benches build theirs here too.

Each party speaks on its own channel; the other channel carries the same speech
``bleed_db`` lower (as on real call recordings, where the line and the headset leak),
and both channels carry noise at a given signal-to-noise ratio. The turns are where each
utterance really has sound, so they are the reference for speaker assignment and DER.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SPEAKERS = ("agent", "customer")
VOICES = ("en-us", "en-gb+f3")

CALL_SCRIPT = [
    (0, "Good morning, this is the support line, my name is Alex. How can I help you?"),
    (1, "Hi Alex. My internet connection keeps dropping every evening since Monday."),
    (0, "I am sorry to hear that. Can you tell me your customer number, please?"),
    (1, "Yes, it is four five two, seven seven one, nine."),
    (0, "Thank you. I can see two outages in your area this week."),
    (1, "Right."),  # said over the end of the agent's line: crosstalk
    (0, "A technician will replace the street cabinet tomorrow morning."),
    (1, "That is great news, thank you very much for your help."),
]


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class StereoCall:
    path: Path
    turns: list[Turn]
    duration_sec: float


def speak(path: Path, text: str, voice: str = "en-us", words_per_minute: int = 150) -> Path:
    """Real synthesized speech from espeak-ng (installed by scripts/setup.sh) as a WAV."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is missing; run scripts/setup.sh")
    subprocess.run(
        [espeak, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return path


def read_wav_mono(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as handle:
        rate, channels = handle.getframerate(), handle.getnchannels()
        samples = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    audio = samples.reshape(-1, channels).mean(axis=1) / 32768.0
    return audio.astype(np.float32), rate


def resample(audio: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if rate == target:
        return audio
    positions = np.arange(0, len(audio) * target / rate) * rate / target
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def trimmed(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """Without leading and trailing silence: the turn is where the sound is."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def write_wav(path: Path, *channels: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """16-bit PCM WAV with one channel per array (float samples in -1..1)."""
    pcm = (np.clip(np.stack(channels, axis=1), -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(len(channels))
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())
    return path


def mix_call(
    path: Path,
    placed: list[tuple[float, int, np.ndarray]],
    bleed_db: float,
    snr_db: float,
    seed: int,
) -> StereoCall:
    """Put each (start, channel, audio) on its channel, with bleed, and noise ``snr_db``
    below the speech (RMS over the utterances)."""
    end = max(start + len(audio) / SAMPLE_RATE for start, _, audio in placed) + 0.5
    channels = np.zeros((2, int(end * SAMPLE_RATE)), dtype=np.float32)
    bleed = 10 ** (bleed_db / 20)
    turns = []
    for start, channel, audio in placed:
        first = int(start * SAMPLE_RATE)
        channels[channel, first : first + len(audio)] += audio
        channels[1 - channel, first : first + len(audio)] += bleed * audio
        turns.append(Turn(start, start + len(audio) / SAMPLE_RATE, SPEAKERS[channel]))
    speech_rms = float(np.sqrt(np.mean(np.concatenate([audio for _, _, audio in placed]) ** 2)))
    noise = speech_rms / 10 ** (snr_db / 20)
    rng = np.random.default_rng(seed)
    channels += noise * rng.standard_normal(channels.shape).astype(np.float32)
    write_wav(path, channels[0], channels[1])
    return StereoCall(path, sorted(turns, key=lambda t: t.start), end)


def build_espeak_call(
    path: Path,
    script: list[tuple[int, str]] = CALL_SCRIPT,
    gap_sec: float = 0.7,
    bleed_db: float = -20.0,
    snr_db: float = 30.0,
    seed: int = 0,
) -> StereoCall:
    """A two-party call from espeak-ng voices; a one-word line overlaps the one before."""
    placed = []
    cursor = 0.5
    with tempfile.TemporaryDirectory() as scratch:
        for index, (speaker, text) in enumerate(script):
            clip = Path(scratch) / f"{index}.wav"
            speak(clip, text, voice=VOICES[speaker])
            audio, rate = read_wav_mono(clip)
            audio = trimmed(resample(audio, rate)) * 0.8
            short = len(audio) < 1.5 * SAMPLE_RATE
            start = cursor - 0.6 if short and placed else cursor
            placed.append((start, speaker, audio))
            cursor = max(cursor, start + len(audio) / SAMPLE_RATE + gap_sec)
    return mix_call(path, placed, bleed_db, snr_db, seed)


def build_call_from_reference(
    path: Path,
    wav: Path,
    rttm: Path,
    bleed_db: float = -20.0,
    snr_db: float = 30.0,
) -> StereoCall:
    """A stereo call from a mono two-speaker recording and its reference RTTM: each
    reference turn is copied onto its speaker's channel (pyannote.audio's sample.wav)."""
    audio, rate = read_wav_mono(wav)
    audio = resample(audio, rate)
    rows = [line.split() for line in rttm.read_text().splitlines() if line.strip()]
    labels = sorted({row[7] for row in rows})[:2]
    placed = []
    for row in rows:
        if row[7] not in labels:
            continue
        start, duration = float(row[3]), float(row[4])
        clip = audio[int(start * SAMPLE_RATE) : int((start + duration) * SAMPLE_RATE)]
        placed.append((start, labels.index(row[7]), clip))
    return mix_call(path, placed, bleed_db, snr_db, seed=1)


def diarization_error_rate(
    reference: list[Turn], hypothesis: list[Turn], collar: float = 0.0
) -> float:
    """DER by pyannote.metrics (the diarization extra), labels mapped optimally."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    def annotation(turns: list[Turn]) -> Annotation:
        result = Annotation()
        for index, turn in enumerate(turns):
            result[Segment(turn.start, turn.end), index] = turn.speaker
        return result

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    return float(metric(annotation(reference), annotation(hypothesis)))


if __name__ == "__main__":
    build_espeak_call(Path(sys.argv[1]))
