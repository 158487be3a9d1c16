"""Step diarization: speakers for the transcript, by channel, by the packaged speaker
model (embeddings) or by pyannote.

Never fatal: on failure the transcript is kept, the step is recorded as failed and
the recording ends DONE with the error shown.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rq.timeouts import BaseTimeoutException

from whisperops.errors import WhisperopsError
from whisperops.models import Step, StepOutcome
from whisperops.pipeline.diarization.channel_backend import ONE_MIX
from whisperops.pipeline.diarization.choice import choose_diarizer, diarizer_named
from whisperops.pipeline.diarization.protocol import Diarized, Diarizer, Skip
from whisperops.pipeline.diarization.speakers import assign_speakers
from whisperops.pipeline.failures import failure_message
from whisperops.pipeline.job_state import JobState, StepResult

log = logging.getLogger(__name__)


def diarization(state: JobState) -> StepResult:
    audio = state.audio
    choice: Diarizer | Skip | None = None
    try:
        choice = choose_diarizer(
            state.settings,
            audio.channels if audio else None,
            audio.duration_sec if audio else None,
        )
        if isinstance(choice, Skip):
            result = choice
        else:
            choice, result = run(choice, state)
        if isinstance(result, Skip):
            state.diarization_pending = result.pending
            state.segments = assign_speakers(state.segments, [])  # drops earlier speakers
            return StepOutcome.SKIPPED, result.reason
    except BaseTimeoutException:
        raise
    except Exception as exc:
        # Only the pyannote backend can fail to load (choice is still None then).
        backend = getattr(choice, "name", None) or "pyannote"
        state.diarization_pending = True
        state.diarization_error = failure_message(Step.DIARIZATION, len(state.segments), exc)
        log.warning(
            "Diarization failed for %s (%s backend); keeping the transcript without speakers: %s",
            state.who,
            backend,
            exc,
            exc_info=not isinstance(exc, WhisperopsError),
        )
        state.segments = assign_speakers(state.segments, [])
        return StepOutcome.FAILED, f"{backend}: {exc}"
    before = len(state.segments)
    state.segments = assign_speakers(state.segments, result.turns)
    labelled = sum(1 for segment in state.segments if segment.speaker)
    split = len(state.segments) - before
    return StepOutcome.OK, (
        f"{choice.name}: {speaker_count_text(result)}, {len(result.turns)} turns, "
        f"{labelled}/{len(state.segments)} segments labelled"
        + (f" ({split} more after splitting at speaker changes)" if split else "")
    )


def run(diarizer: Diarizer, state: JobState) -> tuple[Diarizer, Diarized | Skip]:
    """The backend that ran and its turns; under `auto`, a stereo file that holds one
    mix twice goes on to the embeddings backend (so the history names that one)."""
    path = Path(state.recording.file_path)
    result = diarizer.diarize(path, state.segments)
    if isinstance(result, Skip) and result.reason == ONE_MIX:
        if state.settings.diarization_backend == "auto":
            fallback = diarizer_named("embeddings", state.settings)
            return fallback, fallback.diarize(path, state.segments)
        result = Skip(f"{ONE_MIX}; the embeddings backend diarizes such files", pending=False)
    return diarizer, result


def speaker_count_text(result: Diarized) -> str:
    noun = "speaker" if result.speakers == 1 else "speakers"
    return f"{result.speakers} {noun}" + (f" ({result.decided})" if result.decided else "")
