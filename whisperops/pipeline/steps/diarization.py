"""Step diarization: speakers for the transcript, by channel or by pyannote.

Never fatal: on failure the transcript is kept, the step is recorded as failed and
the recording ends DONE with the error shown.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rq.timeouts import BaseTimeoutException

from whisperops.errors import WhisperopsError
from whisperops.models import Step, StepOutcome
from whisperops.pipeline.diarization.choice import choose_diarizer
from whisperops.pipeline.diarization.protocol import Skip
from whisperops.pipeline.diarization.speakers import assign_speakers
from whisperops.pipeline.failures import failure_message
from whisperops.pipeline.job_state import JobState, StepResult

log = logging.getLogger(__name__)


def diarization(state: JobState) -> StepResult:
    recording, audio = state.recording, state.audio
    choice = None
    try:
        choice = choose_diarizer(
            state.settings,
            audio.channels if audio else None,
            audio.duration_sec if audio else None,
        )
        turns = choice if isinstance(choice, Skip) else choice.diarize(Path(recording.file_path))
        if isinstance(turns, Skip):
            state.diarization_pending = turns.pending
            state.segments = assign_speakers(state.segments, [])  # drops earlier speakers
            return StepOutcome.SKIPPED, turns.reason
    except BaseTimeoutException:
        raise
    except Exception as exc:
        # Only the pyannote backend can fail to load (choice is still None then).
        backend = choice.name if choice is not None else "pyannote"
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
    state.segments = assign_speakers(state.segments, turns)
    speakers = sorted({turn.speaker for turn in turns})
    labelled = sum(1 for segment in state.segments if segment.speaker)
    split = len(state.segments) - before
    return StepOutcome.OK, (
        f"{choice.name}: {len(speakers)} speakers, "
        f"{labelled}/{len(state.segments)} segments labelled"
        + (f" ({split} more after splitting at speaker changes)" if split else "")
    )
