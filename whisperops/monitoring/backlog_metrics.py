"""The backlog families of the exporter: audio left, the ETA and the pace it rests on.

An estimate that is not known (no recording done yet, no transcribe worker online,
Redis down) is left out of the scrape rather than served as NaN: a missing sample
is what PromQL's ``absent()`` and a Grafana "no data" show plainly, while NaN
silently poisons sums and comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from whisperops.backlog import read_backlog, transcribe_workers
from whisperops.runtime import runtime


def backlog_families(redis_factory: Callable, now: datetime) -> list[Metric]:
    """The backlog gauges; the database must be connected (the caller's part)."""
    try:
        workers = transcribe_workers(redis_factory())
    except Exception:  # the ETA is left out; whisperops_redis_up says why
        workers = None
    backlog = read_backlog(runtime().settings, workers, now)
    audio = GaugeMetricFamily(
        "whisperops_backlog_audio_seconds",
        "Audio still to transcribe: queued recordings (durations not yet read are "
        "estimated from file size) plus what processing ones have left.",
    )
    audio.add_metric([], backlog.audio_sec)
    eta = GaugeMetricFamily(
        "whisperops_backlog_eta_seconds",
        "Estimated seconds until the backlog is done at the recent pace with the online "
        "transcribe workers; no sample while unknown.",
    )
    if backlog.empty:
        eta.add_metric([], 0.0)
    elif backlog.eta_sec is not None:
        eta.add_metric([], backlog.eta_sec)
    pace = GaugeMetricFamily(
        "whisperops_pace_audio_seconds_per_second",
        "Audio seconds transcribed per wall second per worker over the last 15 minutes "
        "(recordings done and running); no sample until the workers have done some work.",
    )
    if backlog.pace is not None:
        pace.add_metric([], backlog.pace)
    return [audio, eta, pace]
