"""Test audio made on the spot (no files checked in, nothing downloaded)."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path


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
