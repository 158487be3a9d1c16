"""Step parse_metadata: fields from the file name, by the configured filename_regex."""

from __future__ import annotations

import json

from whisperops.models import StepOutcome
from whisperops.pipeline.filename_fields import parse_filename_fields
from whisperops.pipeline.job_state import JobState, StepResult


def parse_metadata(state: JobState) -> StepResult:
    fields = parse_filename_fields(state.recording.file_name, state.settings.filename_regex)
    state.fence.update(parsed_fields_json=json.dumps(fields) if fields else None)
    if not fields:
        return StepOutcome.OK, "file name did not match filename_regex; no fields"
    return StepOutcome.OK, ", ".join(f"{key}={value}" for key, value in fields.items())
