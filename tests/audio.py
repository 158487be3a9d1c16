"""Test audio made on the spot (no files checked in, nothing downloaded)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from scripts.stereo_calls import speak


def write_tone_wav(
    path: Path,
    frequency: float = 440.0,
    seconds: float = 1.0,
    sample_rate: int = 16000,
    channels: int = 1,
) -> Path:
    """A sine tone as 16-bit PCM WAV; different frequencies give different SHA-256s."""
    frames = int(seconds * sample_rate)
    samples = (
        int(8000 * math.sin(2 * math.pi * frequency * i / sample_rate)) for i in range(frames)
    )
    data = b"".join(struct.pack("<h", sample) * channels for sample in samples)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(data)
    return path


SPEECH_TEXT = (
    "Hello, thank you for calling the support line. My name is Alex and I will help you "
    "today. Could you please tell me your account number and the reason for your call?"
)


def write_speech_wav(
    path: Path, text: str = SPEECH_TEXT, voice: str = "en-us", words_per_minute: int = 150
) -> Path:
    """Real synthesized speech from espeak-ng (installed by scripts/setup.sh)."""
    return speak(path, text, voice, words_per_minute)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over normalized words, divided by the reference length."""
    import re

    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, start=1):
        current = [i]
        for j, hyp_word in enumerate(hyp, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1] / max(1, len(ref))
