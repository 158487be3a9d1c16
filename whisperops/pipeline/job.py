"""process_recording: one RQ job runs one attempt of one recording through the six steps.

Every write goes through :class:`~whisperops.ops.attempt.FencedRecording`, so a job
whose attempt has been superseded (requeued by an operator or by the sweep) stops
and writes nothing more. The steps are in :mod:`whisperops.pipeline.steps`.
"""

from __future__ import annotations

import logging

from rq.timeouts import BaseTimeoutException

from whisperops.models import Status, Step, StepOutcome
from whisperops.ops.attempt import Fenced, FencedRecording
from whisperops.pipeline.failures import failure_message
from whisperops.pipeline.heartbeat import Heartbeat
from whisperops.pipeline.job_state import JobState, ShutdownRequested
from whisperops.pipeline.media import MediaError
from whisperops.pipeline.resume import resume_point
from whisperops.pipeline.steps import PIPELINE
from whisperops.pipeline.writers import OutputWriteError
from whisperops.runtime import runtime
from whisperops.worker.layout import concrete

log = logging.getLogger(__name__)


def process_recording(recording_id: int, attempt: int) -> str:
    """RQ job: run one attempt of one recording through the six steps.

    A recording queued with ``resume_from_step`` (a re-diarization) starts at that
    step over its kept transcript. Returns the final status ('done', 'failed',
    'released' on shutdown, 'superseded' when fenced off, or 'paused' when intake is
    paused and the recording was left queued).
    """
    # Resolved here, not in the transcriber: the layout's calibration decodes with it.
    settings = concrete(runtime().settings)
    fence = FencedRecording(recording_id, attempt)
    recording = fence.claim()
    if recording is None and fence.held_by_pause():
        log.warning(
            "Not starting recording_id=%s attempt %s: intake is paused; it stays queued "
            "and is enqueued again after `whisperops resume`",
            recording_id,
            attempt,
        )
        return "paused"
    if recording is None:
        log.info(
            "Skipping recording_id=%s attempt %s: no longer this attempt's to run",
            recording_id,
            attempt,
        )
        return "superseded"
    state = JobState(recording=recording, settings=settings, fence=fence)
    first = resume_point(state)
    heartbeat = Heartbeat(state, settings.heartbeat_interval_sec)
    heartbeat.start()
    log.info(
        "Processing %s attempt %s%s",
        state.who,
        attempt,
        f", from step {PIPELINE[first].step.value} over the kept transcript" if first else "",
    )
    try:
        run_steps(state, first)
        fence.finish(state.diarization_error, state.diarization_pending)
        log.info("Recording done: %s, %d segments", state.who, len(state.segments))
        return Status.DONE.value
    except Fenced:
        log.warning(
            "Stopped %s attempt %s at step %s: superseded by a newer attempt; writing nothing more",
            state.who,
            attempt,
            state.step and state.step.value,
        )
        return "superseded"
    except ShutdownRequested:
        try:
            fence.release()
        except Fenced:
            return "superseded"
        log.warning(
            "Released %s at step %s (%d segments): worker shutting down; back to queued",
            state.who,
            state.step and state.step.value,
            len(state.segments),
        )
        return "released"
    except Exception as exc:
        count = len(state.segments)
        step = state.step or Step.PARSE_METADATA
        log.error(
            "Recording %s failed at step %s (%d segments): %s",
            state.who,
            step.value,
            count,
            exc,
            # Bad input, unwritable outputs and timeouts are explained by the message;
            # anything else gets its traceback.
            exc_info=not isinstance(exc, MediaError | OutputWriteError | BaseTimeoutException),
        )
        try:
            fence.fail(failure_message(step, count, exc))
        except Fenced:
            return "superseded"
        return Status.FAILED.value
    finally:
        heartbeat.stop()
        fence.clear_progress()


def run_steps(state: JobState, first: int) -> None:
    """Run the steps from ``first`` on, recording each in the step history."""
    fence = state.fence
    for number, spec in enumerate(PIPELINE[first:], start=first):
        state.check_fence()
        state.step = spec.step
        run = fence.begin_step(spec.step)
        if spec.step != Step.TRANSCRIBE:  # transcribe logs its own line, with the duration
            log.info("Step %d: %s (%s) %s", number, spec.title, spec.step.value, state.who)
        try:
            outcome, detail = spec.run(state)
        except Fenced:
            fence.end_step(run, StepOutcome.FAILED, "superseded by a newer attempt")
            raise
        except ShutdownRequested:
            fence.end_step(
                run, StepOutcome.FAILED, "interrupted: worker shut down, recording released"
            )
            raise
        except SystemExit:  # RQ's cold shutdown (a second SIGTERM): the row stays PROCESSING
            fence.end_step(
                run, StepOutcome.FAILED, "interrupted: worker exited at once, left to the sweep"
            )
            raise
        except BaseException as exc:
            fence.end_step(run, StepOutcome.FAILED, str(exc) or repr(exc))
            raise
        fence.end_step(run, outcome, detail)
