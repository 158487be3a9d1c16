"""The speaker encoder: a voice as a 256-number embedding, on onnxruntime alone.

The network is Resemblyzer's GE2E voice encoder (3 LSTM layers of 256 and a linear
projection, trained on LibriSpeech, VoxCeleb 1 and 2; Apache-2.0), whose weights
ship inside the `Resemblyzer` package on PyPI. `scripts/export_speaker_encoder.py`
converted them once to ONNX; the file ships as package data beside its licence
(`whisperops/assets/NOTICE.md`), and a test checks it against the original on real
speech wherever the torch extra is installed.

Its input is what Resemblyzer feeds it: 40-band mel power spectra (not log) of
25-ms frames every 10 ms of 16 kHz audio, the speech at about -30 dBFS. The
features are computed here with numpy, block by block, so a two-hour recording
never has to be held as samples.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # samples: 10 ms
N_FFT = 400  # samples: 25 ms
N_MELS = 40
EMBEDDING_SIZE = 256
FRAMES_PER_SEC = SAMPLE_RATE // HOP
TARGET_DBFS = -30.0  # the level Resemblyzer normalises its training audio to
INT16_MAX = 2**15 - 1

ENCODER_PATH = Path(__file__).parents[2] / "assets" / "speaker_encoder.onnx"
"""Resemblyzer's GE2E encoder as ONNX (see the module docstring and NOTICE.md)."""

_session = None
_session_lock = threading.Lock()


def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters on the Slaney mel scale, each of
    unit area (librosa.filters.mel's defaults, which Resemblyzer trained with)."""

    def hz_to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / (200.0 / 3)
        logstep = np.log(6.4) / 27.0
        return np.where(
            hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-9) / 1000.0) / logstep, linear
        )

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        logstep = np.log(6.4) / 27.0
        return np.where(mel >= 15.0, 1000.0 * np.exp(logstep * (mel - 15.0)), mel * 200.0 / 3)

    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


_FILTERS = mel_filters()
_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def stream_samples(path: Path, block_sec: float = 30.0) -> Iterator[np.ndarray]:
    """The file as 16 kHz mono float32 blocks of about ``block_sec`` (channels mixed)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    wanted = int(block_sec * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    held = 0
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            for resampled in resampler.resample(frame):
                pending.append(resampled.to_ndarray().reshape(-1))
                held += pending[-1].size
                if held >= wanted:
                    yield np.concatenate(pending)
                    pending, held = [], 0
        for resampled in resampler.resample(None):
            pending.append(resampled.to_ndarray().reshape(-1))
    if pending:
        yield np.concatenate(pending)


def mel_blocks(blocks: Iterator[np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mel power spectra (frames, N_MELS) and the mean square of each frame's 10 ms
    (frames,), block by block; frame ``i`` is centred on sample ``i * HOP`` as with
    librosa's ``center=True`` (zero padding at the start and end)."""
    half = N_FFT // 2
    carry = np.zeros(half, dtype=np.float32)  # the zero padding before sample 0

    def frames_of(samples: np.ndarray) -> int:
        return max(0, (samples.size - N_FFT) // HOP + 1)

    def features(samples: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        index = np.arange(N_FFT)[None, :] + HOP * np.arange(count)[:, None]
        framed = samples[index]
        spectrum = np.abs(np.fft.rfft(framed * _WINDOW, axis=1)) ** 2
        mel = (spectrum.astype(np.float32) @ _FILTERS.T).astype(np.float32)
        centre = framed[:, half - HOP // 2 : half + HOP // 2]
        return mel, np.mean(centre.astype(np.float64) ** 2, axis=1).astype(np.float32)

    for block in blocks:
        samples = np.concatenate([carry, block.astype(np.float32)])
        count = frames_of(samples)
        if count:
            yield features(samples, count)
            carry = samples[count * HOP :]
        else:
            carry = samples
    samples = np.concatenate([carry, np.zeros(half, dtype=np.float32)])
    count = frames_of(samples)
    if count:
        yield features(samples, count)


def mel_frames(blocks: Iterator[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """All of mel_blocks at once (for short audio and tests)."""
    parts = list(mel_blocks(blocks))
    if not parts:
        return np.zeros((0, N_MELS), dtype=np.float32), np.zeros(0, dtype=np.float32)
    return np.concatenate([m for m, _ in parts]), np.concatenate([p for _, p in parts])


def level_normalised(mel: np.ndarray, power: np.ndarray) -> np.ndarray:
    """``mel`` scaled as if its audio were at TARGET_DBFS: the network reads linear
    power, so the same voice louder or quieter (another gain, another line) would
    otherwise embed differently."""
    mean_square = float(np.mean(power)) * INT16_MAX**2
    if mean_square <= 0.0:
        return mel
    target = (10 ** (TARGET_DBFS / 20) * INT16_MAX) ** 2
    return mel * np.float32(target / mean_square)


def encoder_session():
    """The ONNX session, loaded once per process. One thread: the worker layout gives
    each process its own core, and the LSTM's small matrices gain little from more."""
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(
                str(ENCODER_PATH), options, providers=["CPUExecutionProvider"]
            )
        return _session


def embed(windows: np.ndarray) -> np.ndarray:
    """L2-normalised embeddings (batch, 256) of mel windows (batch, frames, N_MELS)."""
    session = encoder_session()
    (embeddings,) = session.run(None, {"mels": windows.astype(np.float32)})
    return embeddings
