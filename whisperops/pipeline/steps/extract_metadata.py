"""Step extract_metadata: duration, codec, sample rate and channels of the audio."""

from __future__ import annotations

import json
from pathlib import Path

from whisperops.models import StepOutcome
from whisperops.pipeline.job_state import JobState, StepResult
from whisperops.pipeline.media import probe_audio
from whisperops.text import format_duration


def extract_metadata(state: JobState) -> StepResult:
    audio = probe_audio(Path(state.recording.file_path))
    state.audio = audio
    stored = audio.as_dict()
    state.fence.update(**stored, metadata_json=json.dumps(stored))
    return StepOutcome.OK, (
        f"{format_duration(audio.duration_sec, minutes=True)}, {audio.codec}, "
        f"{audio.sample_rate} Hz, {audio.channels} ch"
    )
