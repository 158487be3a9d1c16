"""The six steps, in order: each a function of the job's state, in a module of its name.

:data:`PIPELINE` is the one table the job runs; the order and names come from
:class:`whisperops.models.Step`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from whisperops.models import Step
from whisperops.pipeline.job_state import JobState, StepResult
from whisperops.pipeline.steps.analytics import analytics
from whisperops.pipeline.steps.diarization import diarization
from whisperops.pipeline.steps.extract_metadata import extract_metadata
from whisperops.pipeline.steps.parse_metadata import parse_metadata
from whisperops.pipeline.steps.store_results import store_results
from whisperops.pipeline.steps.transcribe import transcribe


@dataclass(frozen=True)
class StepSpec:
    step: Step
    title: str  # the job log's "Step N: <title> (<step>)"
    run: Callable[[JobState], StepResult]


PIPELINE = (
    StepSpec(Step.PARSE_METADATA, "Parsing file name...", parse_metadata),
    StepSpec(Step.EXTRACT_METADATA, "Extracting audio metadata...", extract_metadata),
    StepSpec(Step.TRANSCRIBE, "Transcribing audio...", transcribe),
    StepSpec(Step.DIARIZATION, "Assigning speakers...", diarization),
    StepSpec(Step.ANALYTICS, "Computing analytics...", analytics),
    StepSpec(Step.STORE_RESULTS, "Storing results...", store_results),
)
if tuple(spec.step for spec in PIPELINE) != tuple(Step):
    raise RuntimeError("PIPELINE must list every Step, in Step's order")
