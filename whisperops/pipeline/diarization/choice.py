"""Which backend diarizes a recording, from the settings and the audio, or why none does
and whether the recording should wait for a later `whisperops rediarize` (pending)."""

from __future__ import annotations

from whisperops.config import Settings
from whisperops.pipeline.diarization.protocol import Diarizer, Skip
from whisperops.text import format_duration


def diarization_backend(
    settings: Settings, channels: int | None, duration_sec: float | None
) -> str | Skip:
    """The backend that will diarize this recording ('embeddings', 'channel' or
    'pyannote'), or a Skip.

    Decided from the settings and the audio alone, without loading anything: the
    transcribe step asks it whether word timings will be used. (A stereo file that
    turns out to hold one mix twice goes from 'channel' to 'embeddings' under auto.)
    """
    backend = settings.diarization_backend
    if backend == "none":
        return Skip("diarization backend is 'none'", pending=False)
    limit = settings.diarization_max_duration_sec
    if limit and (duration_sec or 0.0) > limit:
        return Skip(
            f"{format_duration(duration_sec)} is longer than diarization_max_duration_sec "
            f"({format_duration(limit)}); pending re-diarization",
            pending=True,
        )
    if backend == "auto":
        if settings.pyannote_model:
            return "pyannote"
        return "channel" if channels == 2 else "embeddings"
    if backend == "channel" and (channels or 1) < 2:
        return Skip("mono audio: the channel backend needs two channels", pending=False)
    return backend


def choose_diarizer(
    settings: Settings, channels: int | None, duration_sec: float | None
) -> Diarizer | Skip:
    backend = diarization_backend(settings, channels, duration_sec)
    if isinstance(backend, Skip):
        return backend
    return diarizer_named(backend, settings)


def diarizer_named(backend: str, settings: Settings) -> Diarizer:
    if backend == "channel":
        from whisperops.pipeline.diarization.channel_backend import ChannelDiarizer

        return ChannelDiarizer(settings.channel_speaker_names)
    if backend == "embeddings":
        from whisperops.pipeline.diarization.embedding_backend import EmbeddingDiarizer

        return EmbeddingDiarizer(
            settings.diarization_min_speakers, settings.diarization_max_speakers
        )
    from whisperops.pipeline.diarization.pyannote_backend import load_pyannote

    return load_pyannote(settings)
