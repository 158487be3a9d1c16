"""The stats screen's numbers (whisperops.stats) on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

import pytest
from peewee import Database

from whisperops.migrations import migrate
from whisperops.models import Recording, Status, Step, StepOutcome, StepRun, duration_bucket
from whisperops.ops.attempt import FencedRecording
from whisperops.ops.transitions import recover_stuck
from whisperops.stats import Window, normalise, read_stats

NOW = datetime(2026, 11, 30, 12, 0, 0)


def _recording(name: str, status: Status = Status.DONE, **fields) -> Recording:
    return Recording.create(
        file_path=f"/archive/{name}",
        file_name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        size_bytes=1,
        status=status,
        **fields,
    )


def _run(recording: Recording, step: Step, seconds: float, finished: datetime) -> None:
    StepRun.create(
        recording=recording,
        attempt=1,
        step=step.value,
        started_at=finished - timedelta(seconds=seconds),
        finished_at=finished,
        outcome=StepOutcome.OK,
    )


def _nearest_rank(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def test_step_durations_percentiles_and_shares(migrated_db: Database) -> None:
    recording = _recording("a.wav", processed_at=NOW - timedelta(minutes=5))
    transcribe = [float(n) for n in range(1, 101)]  # 1..100 s, 5,050 s in all
    for seconds in transcribe:
        _run(recording, Step.TRANSCRIBE, seconds, NOW - timedelta(minutes=10))
    for _ in range(10):
        _run(recording, Step.PARSE_METADATA, 0.02, NOW - timedelta(minutes=10))
    for _ in range(5):
        _run(recording, Step.DIARIZATION, 150.0, NOW - timedelta(minutes=10))
    # Not finished: no duration, not counted.
    StepRun.create(recording=recording, attempt=1, step=Step.ANALYTICS.value, started_at=NOW)

    stats = read_stats(Window.HOUR, NOW)

    by_step = {row.step: row for row in stats.steps}
    assert [row.step for row in stats.steps] == ["parse_metadata", "transcribe", "diarization"]
    assert (by_step["transcribe"].runs, by_step["diarization"].runs) == (100, 5)
    assert by_step["parse_metadata"].runs == 10
    for fraction, value in ((0.5, "p50_sec"), (0.95, "p95_sec")):
        exact = _nearest_rank(transcribe, fraction)
        assert getattr(by_step["transcribe"], value) == pytest.approx(exact, rel=0.05)
    assert by_step["diarization"].p50_sec == pytest.approx(150.0, rel=0.05)
    assert by_step["parse_metadata"].p95_sec == pytest.approx(0.02, rel=0.05)
    assert by_step["transcribe"].total_sec == pytest.approx(5050.0)
    assert by_step["diarization"].total_sec == pytest.approx(750.0)
    total = 5050.0 + 750.0 + 0.2
    assert by_step["transcribe"].share == pytest.approx(100 * 5050.0 / total)
    assert sum(row.share for row in stats.steps) == pytest.approx(100.0)


def test_window_boundaries_for_steps_and_done(migrated_db: Database) -> None:
    ages = [timedelta(minutes=10), timedelta(minutes=59), timedelta(minutes=61)]
    ages += [timedelta(hours=23), timedelta(days=30)]
    for number, age in enumerate(ages):
        recording = _recording(f"r{number}.wav", processed_at=NOW - age, updated_at=NOW - age)
        _run(recording, Step.TRANSCRIBE, 10.0, NOW - age)
    _recording("queued.wav", Status.QUEUED)  # not done: in no bucket
    _recording("late.wav", processed_at=NOW + timedelta(minutes=1))  # after `now`

    hour, day, every = (read_stats(window, NOW) for window in Window)

    assert [stats.steps[0].runs for stats in (hour, day, every)] == [2, 4, 5]
    assert (hour.done_total, day.done_total, every.done_total) == (2, 4, 5)
    # The last hour in 5-minute buckets ending at NOW: 59 minutes ago falls in the
    # first, 10 minutes ago in the eleventh (50-55 minutes after the start).
    assert hour.bucket == timedelta(minutes=5) and len(hour.done) == 12
    assert hour.start == NOW - timedelta(hours=1)
    assert hour.done[0] == 1 and hour.done[10] == 1
    assert day.bucket == timedelta(hours=1) and len(day.done) == 24
    assert day.done[1] == 1 and day.done[22] == 1 and day.done[23] == 2
    # 30 days of history in 12-hour buckets: 60 of them, the oldest holding the first.
    assert every.bucket == timedelta(hours=12) and len(every.done) == 60
    assert every.done[0] == 1 and every.done[-1] == 3


def test_no_history_reads_as_empty(migrated_db: Database) -> None:
    stats = read_stats(Window.ALL, NOW)
    assert (stats.done, stats.steps, stats.failures, stats.start) == ([], [], [], None)
    assert read_stats(Window.DAY, NOW).done == [0] * 24


def test_failures_group_by_step_and_normalised_message(migrated_db: Database) -> None:
    def failed(name: str, message: str, minutes: int) -> int:
        return _recording(
            name,
            Status.FAILED,
            error_message=message,
            updated_at=NOW - timedelta(minutes=minutes),
        ).id

    oom = [
        failed(
            name,
            f"Step transcribe ({segments} segments) failed: {name}: CUDA out of memory "
            f"at 0x7f3a{segments:04x}beef, tried to allocate {mb} MiB",
            minutes,
        )
        for name, segments, mb, minutes in (
            ("call-1.wav", 12, 20.5, 30),
            ("+1555 0002.mp3", 140, 300, 5),
            ("board meeting.m4a", 3, 2, 50),
        )
    ]
    unreadable = [
        failed(
            name,
            f"Step extract_metadata failed: {name} is not readable audio: "
            f"/archive/in/{name} 'moov atom' not found",
            minutes,
        )
        for name, minutes in (("x.mp3", 20), ("y.mp3", 3000))
    ]
    stuck = failed(
        "z.wav", "Stuck in step transcribe (40 segments); last update 31m ago (cleanup)", 40
    )

    groups = read_stats(Window.ALL, NOW).failures

    assert [(group.step, group.count) for group in groups] == [
        ("transcribe", 3),
        ("extract_metadata", 2),
        ("transcribe", 1),
    ]
    assert groups[0].recording_ids == frozenset(oom)
    assert groups[0].newest.recording_id == oom[1]
    assert groups[0].newest.file_name == "+1555 0002.mp3"
    assert groups[0].newest.at == NOW - timedelta(minutes=5)
    assert "0002" not in groups[0].pattern and "CUDA out of memory" in groups[0].pattern
    assert groups[1].recording_ids == frozenset(unreadable)
    assert groups[2].recording_ids == {stuck}
    # The last 24 hours leave out the unreadable file that failed two days ago.
    day = read_stats(Window.DAY, NOW).failures
    assert [(group.step, group.count) for group in day] == [
        ("transcribe", 3),
        ("extract_metadata", 1),
        ("transcribe", 1),
    ]


def test_normalise_masks_what_differs_between_recordings() -> None:
    assert normalise("Step transcribe failed: a b.wav: bad header at 12", "a b.wav") == (
        "Step transcribe failed: <file>: bad header at #"
    )
    assert normalise("cannot open /data/x/y.wav: 'abc' id 9f8e7d6c5b4a", "") == (
        "cannot open <path>: '…' id <id>"
    )


def test_end_step_records_the_duration(migrated_db: Database) -> None:
    recording = _recording("run.wav", Status.PROCESSING, attempt=1)
    job = FencedRecording(recording.id, 1)
    run = job.begin_step(Step.TRANSCRIBE)
    job.end_step(run, StepOutcome.OK)
    stored = StepRun.get_by_id(run.id)
    expected = (stored.finished_at - stored.started_at).total_seconds()
    assert stored.duration_sec == pytest.approx(expected)
    assert stored.duration_bucket == duration_bucket(stored.duration_sec)


def test_migration_backfills_durations_of_finished_runs(db: Database) -> None:
    migrate(db, target=11, log=lambda _line: None)
    recording = _recording("old.wav")
    db.execute_sql(
        "INSERT INTO step_history (recording_id, attempt, step, started_at, finished_at, outcome)"
        f" VALUES ({recording.id}, 1, 'transcribe', '2026-01-02 03:05:00', "
        "'2026-01-02 03:07:30.500000', 'ok'), "
        f"({recording.id}, 1, 'analytics', '2026-01-02 03:07:31', NULL, NULL)"
    )

    migrate(db, log=lambda _line: None)

    finished, open_run = StepRun.select().order_by(StepRun.id)
    assert finished.duration_sec == pytest.approx(150.5, abs=0.001)
    assert finished.duration_bucket == duration_bucket(150.5)
    assert (open_run.duration_sec, open_run.duration_bucket) == (None, None)


def test_a_stuck_runs_step_is_closed_with_its_duration(migrated_db: Database) -> None:
    started = NOW - timedelta(minutes=40)
    recording = _recording(
        "stuck.wav",
        Status.PROCESSING,
        attempt=2,
        processing_step="transcribe",
        processing_step_started_at=started,
        updated_at=NOW - timedelta(minutes=17),
    )
    StepRun.create(recording=recording, attempt=2, step="transcribe", started_at=started)

    assert recover_stuck(recording, NOW, NOW - timedelta(minutes=15), give_up=True)

    run = StepRun.get(StepRun.recording == recording.id)
    assert (run.finished_at, run.duration_sec) == (NOW, 2400.0)
    assert run.duration_bucket == duration_bucket(2400.0)
    assert read_stats(Window.HOUR, NOW).steps[0].total_sec == 2400.0
