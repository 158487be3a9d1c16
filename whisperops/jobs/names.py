"""Names shared across processes: queues, job ids, job functions, Redis keys and TTLs."""

TRANSCRIBE_QUEUE = "whisperops-transcribe"
"""RQ queue holding one process_recording job per recording attempt."""

MAINTENANCE_QUEUE = "whisperops-maintenance"
"""RQ queue for the sweep, served by its own worker so transcription never delays it."""

QUEUES = (TRANSCRIBE_QUEUE, MAINTENANCE_QUEUE)
"""Every queue whisperops uses; a shared Redis may hold other applications' queues."""

JOB_ID_PREFIX = "whisperops-recording"
"""Prefix of process_recording job ids; the rest is the recording id and attempt."""


def job_id(recording_id: int, attempt: int) -> str:
    """The one job id a (recording, attempt) pair can have: enqueuing twice can't duplicate it."""
    return f"{JOB_ID_PREFIX}-{recording_id}-attempt-{attempt}"


def parse_job_id(job: str) -> tuple[int, int] | None:
    """The (recording id, attempt) that :func:`job_id` built ``job`` from; None for any
    other job (the sweep's, another application's)."""
    prefix = f"{JOB_ID_PREFIX}-"
    recording, separator, attempt = job.removeprefix(prefix).partition("-attempt-")
    if not job.startswith(prefix) or not separator:
        return None
    if not (recording.isdigit() and attempt.isdigit()):
        return None
    return int(recording), int(attempt)


PROCESS_RECORDING = "whisperops.pipeline.job.process_recording"
"""The transcribe job, referenced by name so enqueuers never import the pipeline."""

RUN_SCHEDULED_SWEEP = "whisperops.sweep.run_scheduled_sweep"
"""The maintenance job rq-scheduler enqueues every sweep interval."""

RESULT_TTL_SEC = 24 * 3600
"""How long RQ keeps a finished process_recording job (the database keeps the truth)."""

FAILURE_TTL_SEC = 7 * 24 * 3600
"""How long RQ keeps a failed process_recording job, for `rq info` and the dashboard."""

SWEEP_JOB_ID = "whisperops-sweep"
"""Id of the repeating sweep in rq-scheduler: a second scheduler re-registers, not adds."""

SWEEP_LOCK_KEY = "whisperops:sweep:lock"
"""Redis key held for most of an interval by the sweep that ran, so a second one skips."""

STUCK_COUNTER_KEY = "whisperops:stuck:handled"
"""Redis hash counting stuck recordings the sweep requeued or failed (for the exporter)."""
