"""The Prometheus collector: everything is read from the DB and RQ at scrape time.

Cost per scrape follows the active recordings, not the table: per-recording series
exist only for recordings in processing (bounded cardinality), counts of queued and
processing rows come from the (status, ...) indexes, and the large done/failed counts
are refreshed at most every ``TOTALS_TTL_SEC``. A part that cannot be read (DB or
Redis down) is left out and its ``*_up`` gauge says 0; the scrape itself never fails.

The step histogram and failure counter are not counted here: they are the
``step_tally`` rows (one per step and duration bucket), which the transaction that
closes a step run increments (:mod:`whisperops.ops.step_tally`). Each finished run
is counted exactly once whichever scrape comes first and however late its close
commits, concurrent scrapes only read, and the counts survive an exporter restart.

Every family served is named ``whisperops_*`` (docs/alerts.yml and the Grafana
dashboard in docs/ use these names).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from peewee import fn
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from whisperops.clock import utcnow
from whisperops.db import database_proxy
from whisperops.health.service_errors import Outage
from whisperops.jobs.names import MAINTENANCE_QUEUE, STUCK_COUNTER_KEY, TRANSCRIBE_QUEUE
from whisperops.models import Recording, Status, Step
from whisperops.monitoring.backlog_metrics import backlog_families
from whisperops.ops.intake import read_intake
from whisperops.ops.step_tally import read_step_totals
from whisperops.progress import live_progress

log = logging.getLogger(__name__)

TOTALS_TTL_SEC = 30.0
_FINISHED_STATUSES = (Status.DONE, Status.FAILED)


class WhisperopsCollector(Collector):
    def __init__(self, redis_factory: Callable, now: Callable[[], datetime] = utcnow) -> None:
        self.redis_factory = redis_factory
        # One line when a part goes down and one when it is back, not one per scrape.
        self.outages = {label: Outage(f"Metrics: {label}", log) for label in ("database", "Redis")}
        self.now = now
        self._totals: dict[Status, int] = {}
        self._pending = 0
        self._totals_read_at = float("-inf")

    def describe(self) -> list[Metric]:
        return []  # collected fresh at each scrape; nothing to declare up front

    def collect(self) -> Iterator[Metric]:
        yield from self._part(
            "database", "whisperops_database_up", "the database", self._read_database
        )
        yield from self._part("Redis", "whisperops_redis_up", "Redis", self._redis_metrics)

    def _part(
        self, label: str, up_name: str, subject: str, read: Callable[[], Iterator[Metric]]
    ) -> Iterator[Metric]:
        """One part's families plus its up-gauge; a part that is down yields only the
        gauge at 0, so a scrape never fails."""
        up = GaugeMetricFamily(up_name, f"1 if {subject} answered this scrape, else 0.")
        try:
            families = list(read())
            up.add_metric([], 1)
        except Exception as exc:
            self.outages[label].down(exc, "its metrics are left out, the up-gauge says 0")
            families = []
            up.add_metric([], 0)
        else:
            self.outages[label].up()
        yield up
        yield from families

    # --- database --------------------------------------------------------------

    def _read_database(self) -> list[Metric]:
        with database_proxy.connection_context():  # no connection held between scrapes
            return list(self._database_metrics())

    def _status_counts(self) -> dict[Status, int]:
        counts = {
            status: Recording.select().where(Recording.status == status).count()
            for status in (Status.QUEUED, Status.PROCESSING)
        }
        if time.monotonic() - self._totals_read_at >= TOTALS_TTL_SEC:
            self._totals = {
                status: Recording.select().where(Recording.status == status).count()
                for status in _FINISHED_STATUSES
            }
            # Can be most of the archive (mono recordings before a pyannote model is
            # configured), so it is re-counted with the totals, not at every scrape.
            self._pending = (
                Recording.select()
                .where(Recording.diarization_pending & (Recording.status == Status.DONE.value))
                .count()
            )
            self._totals_read_at = time.monotonic()
        return {**counts, **self._totals}

    def _database_metrics(self) -> Iterator[Metric]:
        now = self.now()
        counts = self._status_counts()
        by_status = GaugeMetricFamily(
            "whisperops_recordings",
            f"Recordings by status (done and failed refreshed every {TOTALS_TTL_SEC:.0f}s).",
            labels=["status"],
        )
        for status in Status:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status

        pending = GaugeMetricFamily(
            "whisperops_recordings_diarization_pending",
            "Done recordings still without speakers: too long, diarization failed, or no "
            f"backend could run (refreshed every {TOTALS_TTL_SEC:.0f}s).",
        )
        pending.add_metric([], self._pending)
        yield pending

        intake = GaugeMetricFamily(
            "whisperops_intake_paused",
            "1 while intake is paused (`whisperops pause`): nothing new is enqueued.",
        )
        intake.add_metric([], 1 if read_intake().paused else 0)
        yield intake

        processing = list(
            Recording.select(
                Recording.id,
                Recording.processing_step,
                Recording.processing_step_started_at,
                Recording.processing_segments_count,
                Recording.progress_ratio,
                Recording.estimated_finish_at,
                Recording.updated_at,
            ).where(Recording.status == Status.PROCESSING)
        )
        in_processing = GaugeMetricFamily(
            "whisperops_processing_recordings", "Recordings in processing now."
        )
        in_processing.add_metric([], len(processing))
        yield in_processing

        labels = ["recording_id", "step"]
        segments = GaugeMetricFamily(
            "whisperops_processing_segments",
            "Transcript segments so far, per recording in processing.",
            labels=labels,
        )
        step = GaugeMetricFamily(
            "whisperops_processing_step",
            "1 for the step each recording in processing is in.",
            labels=labels,
        )
        elapsed = GaugeMetricFamily(
            "whisperops_processing_step_elapsed_seconds",
            "Time in the current step, per recording in processing.",
            labels=labels,
        )
        since_update = GaugeMetricFamily(
            "whisperops_processing_last_update_age_seconds",
            "Time since the recording's row was last updated (heartbeat).",
            labels=labels,
        )
        progress = GaugeMetricFamily(
            "whisperops_processing_progress_ratio",
            "Estimated fraction of the transcribe step done (0-1).",
            labels=labels,
        )
        for row in processing:
            key = [str(row.id), row.processing_step or "starting"]
            segments.add_metric(key, row.processing_segments_count or 0)
            step.add_metric(key, 1)
            if row.processing_step_started_at:
                elapsed.add_metric(key, (now - row.processing_step_started_at).total_seconds())
            since_update.add_metric(key, max(0.0, (now - row.updated_at).total_seconds()))
            ratio = live_progress(row.progress_ratio, row.estimated_finish_at, row.updated_at, now)
            if ratio is not None and row.processing_step == Step.TRANSCRIBE:
                progress.add_metric(key, ratio)
        yield from (segments, step, elapsed, since_update, progress)

        oldest = (
            Recording.select(fn.MIN(Recording.created_at))
            .where(Recording.status == Status.QUEUED)
            .scalar()
        )
        oldest_age = GaugeMetricFamily(
            "whisperops_oldest_queued_age_seconds",
            "Age of the oldest queued recording; 0 when none is queued.",
        )
        oldest_age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield oldest_age

        totals = read_step_totals()
        durations = HistogramMetricFamily(
            "whisperops_step_duration_seconds",
            "Duration of finished pipeline steps (skipped steps not counted), counted in the "
            "database as each run closes.",
            labels=["step"],
        )
        failures = CounterMetricFamily(
            "whisperops_step_failures_total",
            "Step runs that failed, by step, counted in the database as each run closes.",
            labels=["step"],
        )
        for step_name, step_totals in totals.items():
            durations.add_metric([step_name], step_totals.buckets, step_totals.seconds)
            failures.add_metric([step_name], step_totals.failures)
        yield from (durations, failures)
        yield from backlog_families(self.redis_factory, now)

    # --- Redis -----------------------------------------------------------------

    def _redis_metrics(self) -> Iterator[Metric]:
        from rq import Queue

        from whisperops.jobs.workers import count_workers

        connection = self.redis_factory()
        jobs = GaugeMetricFamily(
            "whisperops_queue_jobs", "Jobs waiting in each whisperops queue.", labels=["queue"]
        )
        for name in (TRANSCRIBE_QUEUE, MAINTENANCE_QUEUE):
            jobs.add_metric([name], Queue(name, connection=connection).count)
        workers = GaugeMetricFamily(
            "whisperops_workers", "whisperops' RQ workers registered (online)."
        )
        # Only whisperops' queues: another application's workers on a shared Redis
        # would hide a WhisperopsNoWorkers alert.
        workers.add_metric([], count_workers(connection))
        stuck = CounterMetricFamily(
            "whisperops_stuck_recordings_total",
            "Stuck recordings the sweep handled, by action.",
            labels=["action"],
        )
        handled = connection.hgetall(STUCK_COUNTER_KEY)
        for action in ("requeued", "failed"):
            stuck.add_metric([action], int(handled.get(action.encode(), 0)))
        yield from (jobs, workers, stuck)
