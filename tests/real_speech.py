"""Recordings of real human speech, built from the 30-s two-speaker phone call that
whisperops bundles for its calibration (pyannote.audio's sample.wav, MIT licence).

Longer recordings repeat the call with a different gain each time (as levels vary
between the parts of a real archive); short "calls" are the clip at one gain. The
reference transcript is the sample's own (sample.stm in pyannote.audio).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scripts.stereo_calls import SAMPLE_RATE, write_wav
from whisperops.pipeline.transcriber import SPEECH_SAMPLE

CALL_SECONDS = 30.0
GAINS = (1.0, 0.5, 1.6, 0.8, 1.2)

REFERENCE = (
    "Hello? Hello? Oh, hello. I didn't know you were there. Neither did I. "
    "Okay, then I thought you know, I heard a beep. This is Diane in New Jersey. "
    "And I'm Sheila in Texas, originally from Chicago. Oh, I'm originally from Chicago also. "
    "I'm in New Jersey now though. Well, there isn't that much difference. "
    "At least you know, they all call me a Yankee down here, so what can I say? "
    "Oh, I don't hear that in New Jersey now."
)


def call_samples() -> np.ndarray:
    """The bundled 30-s call, 16 kHz mono float32."""
    from faster_whisper.audio import decode_audio

    return decode_audio(str(SPEECH_SAMPLE), sampling_rate=SAMPLE_RATE)


def real_recording(path: Path, copies: int, first_gain: int = 0) -> Path:
    """``copies`` x 30 s of the real call, each copy at the next gain, as 16-bit WAV.

    Every ``first_gain`` gives different samples (past the five gains, each round is
    1% louder), so recordings built with distinct values are never duplicates.
    """
    call = call_samples() * (1 + 0.01 * (first_gain // len(GAINS)))
    parts = [call * GAINS[(first_gain + i) % len(GAINS)] for i in range(copies)]
    return write_wav(path, np.concatenate(parts))


def reference_for(copies: int) -> str:
    return " ".join([REFERENCE] * copies)
