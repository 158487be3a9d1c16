"""Step transcribe: the segments of the recording, with a live progress estimate."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from whisperops.models import StepOutcome
from whisperops.pipeline.diarization.choice import diarization_backend
from whisperops.pipeline.diarization.protocol import Skip
from whisperops.pipeline.heartbeat import progress_fields
from whisperops.pipeline.job_state import JobState, StepResult, pace
from whisperops.pipeline.transcriber import TranscriptionInfo, model_label, start_transcription
from whisperops.progress import ProgressEstimator
from whisperops.text import format_duration

log = logging.getLogger(__name__)

# DB writes from the segment callback: at most one per this many seconds.
PROGRESS_WRITE_INTERVAL_SEC = 1.0


def word_timings_for(state: JobState) -> str | None:
    """Why this recording needs word timings (the backend that will use them), or None.

    Decided once extract_metadata knows the channels and duration: only a diarization
    backend that will split segments at speaker changes keeps them. (Sequential
    decoding times words only then: it costs about a fifth more. Batched decoding
    times them anyway, to cut its chunks into cues.)
    """
    audio = state.audio
    backend = diarization_backend(
        state.settings, audio.channels if audio else None, audio.duration_sec if audio else None
    )
    return None if isinstance(backend, Skip) else f"for the {backend} backend"


def transcribe(state: JobState) -> StepResult:
    settings = state.settings
    duration = state.audio.duration_sec if state.audio else None
    log.info(
        "Step 2: Transcribing audio... (duration %s) %s",
        format_duration(duration, minutes=True),
        state.who,
    )
    started = time.monotonic()
    words_for = word_timings_for(state)

    def on_decoded(decoded_sec: float, *work_sec: float) -> None:
        if state.estimator is not None:
            state.estimator.on_segment(decoded_sec, *work_sec)

    info, decoded = start_transcription(
        Path(state.recording.file_path),
        settings,
        words=words_for is not None,
        on_decoded=on_decoded,
    )
    state.language, state.language_probability = info.language, info.language_probability
    state.model_name = model_label(settings)
    state.estimator = ProgressEstimator(
        info.speech_sec,
        pace.seconds_per_speech_sec(info.pace_key),
        started=started,
        parallel=info.parallel,
        chunks=info.chunks,
    )
    log.info(
        "Decoding %s of speech, %s, %s %s",
        format_duration(info.speech_sec, minutes=True),
        info.mode,
        word_timings_text(info, words_for),
        state.who,
    )
    # Publish the first estimate now: readers extrapolate it toward the predicted
    # finish, so progress moves from the start, not from the first heartbeat.
    state.fence.update(**progress_fields(state))
    last_write = 0.0
    for segment in decoded:
        state.check_fence()
        state.segments.append(segment)
        count = len(state.segments)
        if time.monotonic() - last_write >= PROGRESS_WRITE_INTERVAL_SEC:
            state.fence.update(processing_segments_count=count, **progress_fields(state))
            last_write = time.monotonic()
        if count == 1 or count % 5 == 0:
            log_progress(state)
    state.fence.update(
        processing_segments_count=len(state.segments),
        progress_ratio=1.0,
        estimated_finish_at=timedelta(0),  # now, by the database's clock
    )
    pace.observe(info.pace_key, info.speech_sec, state.estimator.decoding_took())
    took = time.monotonic() - started
    log.info(
        "Transcription done: %d segments in %s (language %s, %s) %s",
        len(state.segments),
        format_duration(took, minutes=True),
        info.language,
        info.mode,
        state.who,
    )
    return StepOutcome.OK, (
        f"{len(state.segments)} segments, language {info.language}, {info.mode}, "
        + word_timings_text(info, words_for)
    )


def word_timings_text(info: TranscriptionInfo, words_for: str | None) -> str:
    """What the word timings were for: kept for a backend, only to cut cues, or none."""
    if words_for:
        return f"word timings {words_for}"
    return "word timings to cut cues, not kept" if info.words_decoded else "no word timings"


def log_progress(state: JobState) -> None:
    estimate = state.estimator.estimate()
    remaining = ""
    if estimate.remaining_sec is not None:
        remaining = f", ~{format_duration(estimate.remaining_sec, minutes=True)} remaining"
    log.info(
        "Transcription progress: %d segments (~%d%% estimated, elapsed %s%s) %s",
        len(state.segments),
        round(estimate.ratio * 100),
        format_duration(estimate.elapsed_sec, minutes=True),
        remaining,
        state.who,
    )
