"""The six steps, in order: each a function of the job's state, in a module of its name.

:data:`PIPELINE` is the one table the job runs; the order and names come from
:class:`whisperops.models.Step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from whisperops.models import Step
from whisperops.pipeline.job_state import JobState, StepResult
from whisperops.pipeline.steps import (
    analytics,
    diarization,
    extract_metadata,
    parse_metadata,
    store_results,
    transcribe,
)


@dataclass(frozen=True)
class StepSpec:
    step: Step
    title: str  # the job log's "Step N: <title> (<step>)"
    run: Callable[[JobState], StepResult]


PIPELINE = (
    StepSpec(Step.PARSE_METADATA, "Parsing file name...", parse_metadata.parse_metadata),
    StepSpec(
        Step.EXTRACT_METADATA, "Extracting audio metadata...", extract_metadata.extract_metadata
    ),
    StepSpec(Step.TRANSCRIBE, "Transcribing audio...", transcribe.transcribe),
    StepSpec(Step.DIARIZATION, "Assigning speakers...", diarization.diarization),
    StepSpec(Step.ANALYTICS, "Computing analytics...", analytics.analytics),
    StepSpec(Step.STORE_RESULTS, "Storing results...", store_results.store_results),
)
if tuple(spec.step for spec in PIPELINE) != tuple(Step):
    raise RuntimeError("PIPELINE must list every Step, in Step's order")
