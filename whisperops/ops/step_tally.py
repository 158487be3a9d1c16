"""Closing step runs, each counted once in the database's step tally.

The exporter's step histogram and failure counter are the ``step_tally`` rows
(:class:`~whisperops.models.StepTally`), which the transaction that closes a run
increments: a run is counted exactly when its close commits, however late and
with whatever ``finished_at``, and never twice (only a run still open is closed).
Scrapes only read the rows, one per step and bucket, so concurrent scrapes cannot
double-count, and an exporter restart loses nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from peewee import EXCLUDED

from whisperops.db import database_proxy, is_postgres
from whisperops.models import StepOutcome, StepRun, StepTally, step_closed

DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))
"""The histogram's bounds, seconds (``le``, inclusive): from a metadata read to a long
transcription. Frozen into the stored rows: changing them needs a migration that
re-tallies ``step_history`` (0014 did the first tally)."""


def bucket_label(bound: float) -> str:
    """A bound as Prometheus writes ``le``: '0.1', '10', '+Inf'."""
    return "+Inf" if bound == float("inf") else f"{bound:g}"


LABELS = tuple(bucket_label(bound) for bound in DURATION_BUCKETS)


def bucket_of(seconds: float) -> str:
    """The ``le`` of the one bucket a duration is stored in: the smallest bound >= it."""
    bounds = zip(DURATION_BUCKETS, LABELS, strict=True)
    return next(label for bound, label in bounds if seconds <= bound)


def close_step_run(
    run_id: int,
    step: str,
    started_at: datetime,
    finished_at: datetime,
    outcome: StepOutcome,
    detail: str | None = None,
) -> bool:
    """Close the run if it is still open and count it, in one transaction.

    False when it was closed already (by the sweep, or an earlier call): then it is
    neither changed nor counted again.
    """
    return close_step_runs([(run_id, step)], started_at, finished_at, outcome, detail) == 1


def close_attempt_runs(
    recording_id: int,
    attempt: int,
    started_at: datetime,
    finished_at: datetime,
    outcome: StepOutcome,
    detail: str | None = None,
) -> int:
    """Close and count every run of the attempt still open (the sweep's abandoned ones)."""
    with _writing():
        open_runs = StepRun.select(StepRun.id, StepRun.step).where(
            (StepRun.recording == recording_id)
            & (StepRun.attempt == attempt)
            & StepRun.finished_at.is_null()
        )
        runs = [(run.id, run.step) for run in open_runs]
        return close_step_runs(runs, started_at, finished_at, outcome, detail)


def close_step_runs(
    runs: Iterable[tuple[int, str]],
    started_at: datetime,
    finished_at: datetime,
    outcome: StepOutcome,
    detail: str | None = None,
) -> int:
    """Close those of ``runs`` (id, step) still open and count them; returns how many.

    Each run is closed by ``UPDATE … WHERE id AND finished_at IS NULL``: of two
    closers racing on a run, one changes it (and counts it), the other nothing.
    """
    closed = step_closed(started_at, finished_at)
    counted: Counter[str] = Counter()
    with _writing():
        for run_id, step in runs:
            still_open = (StepRun.id == run_id) & StepRun.finished_at.is_null()
            update = StepRun.update(**closed, outcome=outcome, detail=detail).where(still_open)
            counted[step] += update.execute()
        if outcome is not StepOutcome.SKIPPED:  # skipped runs took no time worth a bucket
            # In key order, so two transactions never lock the same rows crosswise.
            for step in sorted(step for step, runs in counted.items() if runs):
                _add(step, counted[step], closed["duration_sec"], outcome)
    return sum(counted.values())


def _add(step: str, runs: int, seconds: float, outcome: StepOutcome) -> None:
    """``runs`` more runs of ``seconds`` each in the step's bucket for that duration."""
    StepTally.insert(
        step=step,
        le=bucket_of(seconds),
        runs=runs,
        seconds=runs * seconds,
        failures=runs if outcome is StepOutcome.FAILED else 0,
    ).on_conflict(
        conflict_target=[StepTally.step, StepTally.le],
        update={
            StepTally.runs: StepTally.runs + EXCLUDED.runs,
            StepTally.seconds: StepTally.seconds + EXCLUDED.seconds,
            StepTally.failures: StepTally.failures + EXCLUDED.failures,
        },
    ).execute()


def _writing() -> AbstractContextManager:
    """A transaction (or savepoint) that writes. SQLite's takes the write lock at BEGIN:
    one that reads first is refused it, without waiting, once another process wrote."""
    if is_postgres(database_proxy):
        return database_proxy.atomic()
    return database_proxy.atomic("IMMEDIATE")


@dataclass(frozen=True)
class StepTotals:
    """One step's tally as a Prometheus histogram reads it."""

    buckets: list[tuple[str, int]]
    """(le, runs at or under it), cumulative, in DURATION_BUCKETS order."""
    seconds: float
    failures: int


def read_step_totals() -> dict[str, StepTotals]:
    """Every step's totals since the tally began: one row per step and bucket read."""
    per_bucket: dict[str, list[int]] = {}
    seconds: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    rows = StepTally.select(
        StepTally.step, StepTally.le, StepTally.runs, StepTally.seconds, StepTally.failures
    ).tuples()
    for step, le, runs, step_seconds, step_failures in rows:
        counts = per_bucket.setdefault(step, [0] * len(LABELS))
        # A bound no longer in DURATION_BUCKETS still counts in +Inf (and _count).
        counts[LABELS.index(le) if le in LABELS else -1] += runs
        seconds[step] += step_seconds
        failures[step] += step_failures
    totals = {}
    for step, counts in sorted(per_bucket.items()):
        cumulative, running = [], 0
        for label, count in zip(LABELS, counts, strict=True):
            running += count
            cumulative.append((label, running))
        totals[step] = StepTotals(cumulative, seconds[step], failures[step])
    return totals
