"""A failed step's error_message: it names the step (and the segments in transcribe)."""

from __future__ import annotations

from rq.timeouts import BaseTimeoutException

from whisperops.models import Step


def failure_message(step: Step, segments: int, exc: BaseException) -> str:
    """'Step extract_metadata failed: …', 'Step transcribe (12 segments) failed: …',
    or 'Timeout in step transcribe (12 segments): …'."""
    step = Step(step)
    if isinstance(exc, BaseTimeoutException):
        return f"Timeout in step {step.value} ({segments} segments): {exc!r}"
    where = f"Step {step.value}" + (f" ({segments} segments)" if step == Step.TRANSCRIBE else "")
    return f"{where} failed: {exc}"
