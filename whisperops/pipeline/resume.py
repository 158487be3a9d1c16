"""Resuming a re-diarization: start at its step over the transcript kept last time."""

from __future__ import annotations

import logging

from whisperops.models import Step, Transcript, TranscriptSegment
from whisperops.pipeline.job_state import JobState
from whisperops.pipeline.media import AudioInfo
from whisperops.pipeline.segments import Segment, words_from_json

log = logging.getLogger(__name__)


def resume_point(state: JobState) -> int:
    """Index of the first step to run: 0, or where a re-diarization resumes.

    Anything amiss with what was kept (transcript deleted, unknown step, unreadable
    row) means running every step, never a recording left hanging.
    """
    step = state.recording.resume_from_step
    if not step:
        return 0
    try:
        steps = [member.value for member in Step]
        if step in steps and resume_from_kept_results(state):
            return steps.index(step)
        log.warning(
            "Cannot resume %s at step %s: nothing kept; running every step", state.who, step
        )
    except Exception:
        log.warning(
            "Cannot resume %s at step %s; running every step", state.who, step, exc_info=True
        )
    state.segments, state.audio = [], None
    return 0


def resume_from_kept_results(state: JobState) -> bool:
    """Load what the steps before diarization produced last time; False if it is gone."""
    recording = state.recording
    transcript = Transcript.get_or_none(Transcript.recording == recording.id)
    if transcript is None or recording.duration_sec is None:
        return False
    state.segments = [
        Segment(row.start_sec, row.end_sec, row.text, row.speaker, words_from_json(row.words_json))
        for row in transcript.segments.order_by(TranscriptSegment.position)
    ]
    state.language = transcript.language
    state.language_probability = transcript.language_probability
    state.model_name = transcript.model_name
    state.audio = AudioInfo.of_recording(recording)
    return True
