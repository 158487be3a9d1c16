"""Job ids: built from (recording, attempt) and read back; other jobs are not ours."""

from __future__ import annotations

import pytest

from whisperops.jobs.names import SWEEP_JOB_ID, job_id, parse_job_id
from whisperops.jobs.workers import BUSY_STALE_SEC, IDLE_STALE_SEC, is_stale


def test_a_job_id_reads_back_as_its_recording_and_attempt() -> None:
    assert parse_job_id(job_id(42, 3)) == (42, 3)


@pytest.mark.parametrize(
    "other",
    [SWEEP_JOB_ID, "0f3c9a1e2b", "whisperops-recording-x-attempt-1", "whisperops-recording-7"],
)
def test_other_jobs_are_not_a_recording(other: str) -> None:
    assert parse_job_id(other) is None


def test_stale_depends_on_how_often_the_state_heartbeats() -> None:
    # Idle workers beat once per blocking dequeue (405 s), busy ones every 30 s.
    assert (BUSY_STALE_SEC, IDLE_STALE_SEC) == (60, 435)
    assert not is_stale("idle", busy=False, heartbeat_age_sec=300)
    assert is_stale("busy", busy=True, heartbeat_age_sec=300)
    assert is_stale("idle", busy=False, heartbeat_age_sec=500)
    assert is_stale("idle", busy=False, heartbeat_age_sec=None)
