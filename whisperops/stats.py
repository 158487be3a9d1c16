"""Where the time goes and what fails, over a window: the stats screen's numbers.

Three reads: recordings done per time bucket (an index range count per bucket),
step runs per (step, duration bucket) in one GROUP BY over a covering index, so
p50/p95 come from a log-scale histogram (within 5%) rather than from sorting up to
millions of rows; and the failed recordings' messages, grouped here by step and by
the message with its variable parts (file name, paths, numbers, quoted values, hex
ids) masked. Measured by bench/stats_screen.py (target: 500 ms over 1M step runs).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from peewee import SQL, Value, fn

from whisperops.models import (
    DURATION_BUCKET_BASE,
    DURATION_BUCKET_FLOOR,
    Recording,
    Status,
    Step,
    StepRun,
)
from whisperops.ops.queries import failed_step


class Window(str, Enum):
    """How far back the stats look."""

    HOUR = "1h"
    DAY = "24h"
    ALL = "all"


SPANS = {Window.HOUR: timedelta(hours=1), Window.DAY: timedelta(hours=24)}
FIXED_BUCKETS = {Window.HOUR: timedelta(minutes=5), Window.DAY: timedelta(hours=1)}
"""The last hour in 5-minute buckets (12), the last day in hours (24)."""
ALL_BUCKETS = [
    timedelta(hours=hours) for hours in (1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 30, 24 * 91)
] + [timedelta(days=365)]
"""For "all", the smallest of these that covers the history in MAX_BUCKETS."""
MAX_BUCKETS = 60
GROUP_IDS_LIMIT = 10_000
"""A failure group hands the table at most this many recordings, its newest."""


@dataclass(frozen=True)
class StepStats:
    """One step's finished runs in the window (ok, failed and skipped alike)."""

    step: str
    runs: int
    p50_sec: float
    p95_sec: float
    total_sec: float
    share: float
    """Percent of the time all steps took in the window."""


@dataclass(frozen=True)
class FailureExample:
    recording_id: int
    file_name: str
    message: str
    at: datetime


@dataclass(frozen=True)
class FailureGroup:
    """Failed recordings whose messages differ only in their variable parts."""

    step: str | None
    pattern: str
    count: int
    newest: FailureExample
    recording_ids: frozenset[int]


@dataclass(frozen=True)
class Stats:
    window: Window
    now: datetime
    start: datetime | None
    """Where the first done bucket begins; None when nothing is done yet (window all)."""
    bucket: timedelta
    done: list[int]
    """Recordings done per bucket, oldest first, the last bucket ending at ``now``."""
    steps: list[StepStats]
    failures: list[FailureGroup]

    @property
    def done_total(self) -> int:
        return sum(self.done)


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# Tried only where a word starts: from inside one, [\w.~-]* backtracks quadratically.
_PATH = re.compile(r"(?<![\w.~<>-])(?:[A-Za-z]:)?[\w.~<>-]*(?:[/\\][\w.~<>-]+)+")
_HEX = re.compile(r"\b(?:0x[0-9a-fA-F]+|(?=[0-9a-fA-F-]*\d)[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*)\b")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def normalise(message: str, file_name: str = "") -> str:
    """``message`` with the parts that differ between recordings masked, so they group.

    The file name, then quoted values, paths, hex ids and numbers become ``<file>``,
    ``'…'``, ``<path>``, ``<id>`` and ``#``.
    """
    text = message.replace(file_name, "<file>") if file_name else message
    # The guards skip the slower patterns where they cannot match (thousands of rows).
    if "'" in text or '"' in text:
        text = _QUOTED.sub("'…'", text)
    if "/" in text or "\\" in text:
        text = _PATH.sub("<path>", text)
    text = _HEX.sub("<id>", text)
    return _NUMBER.sub("#", text)


def bucket_seconds(bucket: int) -> float:
    """A duration bucket's representative: within 5% of any duration in it (0 under 1 ms)."""
    if bucket <= 0:
        return 0.0
    return (
        DURATION_BUCKET_FLOOR
        * DURATION_BUCKET_BASE ** (bucket - 1)
        * math.sqrt(DURATION_BUCKET_BASE)
    )


def percentile(histogram: list[tuple[int, int]], fraction: float) -> float:
    """The nearest-rank percentile of a (bucket, count) histogram sorted by bucket.

    The exact value lies in the bucket found, so the result is within 5% of it
    (or under 1 ms off, for bucket 0).
    """
    total = sum(count for _bucket, count in histogram)
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket, count in histogram:
        seen += count
        if seen >= rank:
            return bucket_seconds(bucket)
    return 0.0


def read_stats(window: Window, now: datetime) -> Stats:
    """The stats over ``window`` ending at ``now`` (naive UTC, as stored)."""
    since = now - SPANS[window] if window in SPANS else None
    start, bucket, done = _done_per_bucket(window, now)
    return Stats(
        window=window,
        now=now,
        start=start,
        bucket=bucket,
        done=done,
        steps=_step_stats(since, now),
        failures=_failure_groups(since),
    )


def _done_per_bucket(window: Window, now: datetime) -> tuple[datetime | None, timedelta, list[int]]:
    done = Recording.status == Status.DONE.value
    if window in SPANS:
        bucket = FIXED_BUCKETS[window]
        count = SPANS[window] // bucket
    else:
        first = Recording.select(fn.MIN(Recording.processed_at)).where(done).scalar()
        if first is None:
            return None, ALL_BUCKETS[0], []
        span = max(now - first, timedelta(seconds=1))
        bucket = next((b for b in ALL_BUCKETS if span / b <= MAX_BUCKETS), ALL_BUCKETS[-1])
        count = min(MAX_BUCKETS, math.ceil(span / bucket))
    start = now - count * bucket
    # One index range count per bucket over (status, processed_at), in one statement:
    # it touches only the window's index entries and computes nothing per row, where
    # a GROUP BY on a time expression would evaluate it for each of ~170k rows.
    edges = [start + position * bucket for position in range(count)] + [now]
    parts = [
        Recording.select(Value(position), fn.COUNT(SQL("*"))).where(
            done
            & (Recording.processed_at >= low)
            & (
                (Recording.processed_at < high)
                if position < count - 1
                else (Recording.processed_at <= high)
            )
        )
        for position, (low, high) in enumerate(itertools.pairwise(edges))
    ]
    counts = [0] * count
    for position, number in functools.reduce(operator.add, parts).tuples():
        counts[position] = number
    return start, bucket, counts


def _step_stats(since: datetime | None, now: datetime) -> list[StepStats]:
    where = StepRun.duration_sec.is_null(False)
    if since is not None:
        where &= (StepRun.finished_at >= since) & (StepRun.finished_at <= now)
    rows = (
        StepRun.select(
            StepRun.step, StepRun.duration_bucket, fn.COUNT(SQL("*")), fn.SUM(StepRun.duration_sec)
        )
        .where(where)
        .group_by(StepRun.step, StepRun.duration_bucket)
        .tuples()
    )
    histograms: dict[str, list[tuple[int, int]]] = {}
    totals: dict[str, float] = {}
    for step, bucket, count, seconds in rows:
        histograms.setdefault(step, []).append((bucket or 0, count))
        totals[step] = totals.get(step, 0.0) + float(seconds or 0.0)
    grand_total = sum(totals.values())
    order = {step.value: position for position, step in enumerate(Step)}
    result = []
    for step in sorted(histograms, key=lambda name: (order.get(name, len(order)), name)):
        histogram = sorted(histograms[step])
        result.append(
            StepStats(
                step=step,
                runs=sum(count for _bucket, count in histogram),
                p50_sec=percentile(histogram, 0.50),
                p95_sec=percentile(histogram, 0.95),
                total_sec=totals[step],
                share=100.0 * totals[step] / grand_total if grand_total else 0.0,
            )
        )
    return result


def _failure_groups(since: datetime | None) -> list[FailureGroup]:
    where = Recording.status == Status.FAILED.value
    if since is not None:
        where &= Recording.updated_at >= since
    rows = (
        Recording.select(
            Recording.id, Recording.file_name, Recording.error_message, Recording.updated_at
        )
        .where(where)
        .order_by(Recording.updated_at.desc(), Recording.id.desc())
        .tuples()
    )
    return group_failures(rows)


def group_failures(rows: Iterable[tuple[int, str, str | None, datetime]]) -> list[FailureGroup]:
    """Group (id, file name, message, when) rows, newest first, by step and pattern.

    Most frequent groups first; ties by the newest example.
    """
    groups: dict[tuple[str | None, str], list[FailureExample]] = {}
    for recording_id, file_name, message, at in rows:
        text = message or ""
        key = (failed_step(text), normalise(text, file_name))
        groups.setdefault(key, []).append(FailureExample(recording_id, file_name, text, at))
    result = [
        FailureGroup(
            step=step,
            pattern=pattern,
            count=len(examples),
            newest=examples[0],
            # The newest ones only: the table filters by these ids, one SQL parameter
            # each (SQLite takes at most 32,766).
            recording_ids=frozenset(e.recording_id for e in examples[:GROUP_IDS_LIMIT]),
        )
        for (step, pattern), examples in groups.items()
    ]
    result.sort(key=lambda group: (-group.count, -group.newest.at.timestamp()))
    return result
