"""The exporter: values from the DB and RQ, promtool-clean output, never a failed scrape."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from tests.conftest import ON_SQLITE, free_port, skip_unless_required
from tests.console.conftest import NOW, fill, frozen_now
from whisperops.config import Settings
from whisperops.jobs.names import STUCK_COUNTER_KEY
from whisperops.models import Recording, Status, StepOutcome, StepRun
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.ops.step_tally import close_step_run
from whisperops.runtime import init_runtime

ROOT = Path(__file__).resolve().parents[2]


def scrape(collector: WhisperopsCollector) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry).decode()


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def promtool() -> str:
    """promtool's path: skipped without it, failed instead under WHISPEROPS_REQUIRE_PROMTOOL=1."""
    path = shutil.which("promtool")
    if path is None:
        skip_unless_required(
            "WHISPEROPS_REQUIRE_PROMTOOL", "promtool missing; `scripts/setup.sh dev` installs it"
        )
    return path


def close_run(
    recording_id: int,
    step: str,
    finished_at: datetime,
    seconds: float,
    outcome: StepOutcome = StepOutcome.OK,
    attempt: int = 1,
) -> StepRun:
    """A step run begun and closed as a worker's are: counted in the tally as it closes."""
    started_at = finished_at - timedelta(seconds=seconds)
    run = StepRun.create(recording=recording_id, attempt=attempt, step=step, started_at=started_at)
    assert close_step_run(run.id, step, started_at, finished_at, outcome)
    return run


@pytest.fixture
def metric_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    configured = settings.replace(redis_url=redis_url)
    init_runtime(configured)
    return configured


def test_metrics_from_db_and_redis(metric_settings: Settings, redis: Redis) -> None:
    ids = fill(metric_settings)
    collector = WhisperopsCollector(lambda: redis, now=frozen_now)
    redis.hset(STUCK_COUNTER_KEY, mapping={"requeued": 2, "failed": 1})
    # fill()'s history rows were inserted finished, not closed, so the tally (counted
    # as runs close) has only these two.
    close_run(ids["done"], "transcribe", NOW - timedelta(minutes=9), seconds=9)
    close_run(
        ids["failed"],
        "extract_metadata",
        NOW - timedelta(minutes=50, seconds=59),
        seconds=1,
        outcome=StepOutcome.FAILED,
    )

    Recording.update(diarization_pending=True).where(Recording.id == ids["done"]).execute()

    found = samples(scrape(collector))

    assert found[("whisperops_recordings_diarization_pending", ())] == 1
    assert found[("whisperops_database_up", ())] == 1
    assert found[("whisperops_redis_up", ())] == 1
    assert found[("whisperops_processing_recordings", ())] == 2
    for status, count in {"queued": 2, "processing": 2, "done": 1, "failed": 1}.items():
        assert found[("whisperops_recordings", (("status", status),))] == count
    transcribing = (("recording_id", str(ids["transcribing"])), ("step", "transcribe"))
    assert found[("whisperops_processing_segments", transcribing)] == 45
    assert found[("whisperops_processing_step", transcribing)] == 1
    assert found[("whisperops_processing_step_elapsed_seconds", transcribing)] == 180
    assert round(found[("whisperops_processing_progress_ratio", transcribing)], 3) == 0.412
    diarizing = (("recording_id", str(ids["diarizing"])), ("step", "diarization"))
    assert found[("whisperops_processing_segments", diarizing)] == 0
    # Only recordings in processing get per-recording series.
    assert not any(("recording_id", str(ids["done"])) in labels for _, labels in found)
    assert found[("whisperops_oldest_queued_age_seconds", ())] == 7200
    assert found[("whisperops_step_duration_seconds_count", (("step", "transcribe"),))] == 1
    assert (
        found[("whisperops_step_duration_seconds_bucket", (("le", "10"), ("step", "transcribe")))]
        == 1
    )
    assert (
        found[("whisperops_step_duration_seconds_bucket", (("le", "5"), ("step", "transcribe")))]
        == 0
    )
    assert found[("whisperops_step_failures_total", (("step", "extract_metadata"),))] == 1
    assert found[("whisperops_queue_jobs", (("queue", "whisperops-transcribe"),))] == 0
    assert found[("whisperops_workers", ())] == 0
    assert found[("whisperops_stuck_recordings_total", (("action", "requeued"),))] == 2

    # A scrape only reads the tally: a second one does not count runs twice.
    again = samples(scrape(collector))
    assert again[("whisperops_step_duration_seconds_count", (("step", "transcribe"),))] == 1


def test_output_passes_promtool(metric_settings: Settings, redis: Redis, promtool: str) -> None:
    fill(metric_settings)
    collector = WhisperopsCollector(lambda: redis, now=frozen_now)
    text = scrape(collector)
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_promtool(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(ROOT / "docs" / "alerts.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alerts_fire_on_the_exported_series(promtool: str) -> None:
    """promtool's unit tests: each alert fires on the series the exporter serves."""
    result = subprocess.run(
        [promtool, "test", "rules", str(ROOT / "tests" / "integration" / "alerts_test.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_is_importable_json() -> None:
    import json

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    assert dashboard["title"] and dashboard["panels"]
    expressions = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    )
    for metric in (
        "whisperops_processing_recordings",
        "whisperops_processing_segments",
        "whisperops_step_duration_seconds_bucket",
        "whisperops_queue_jobs",
        "whisperops_recordings_diarization_pending",
        "whisperops_backlog_audio_seconds",
        "whisperops_backlog_eta_seconds",
        "whisperops_intake_paused",
    ):
        assert metric in expressions


def test_every_family_is_whisperops_and_the_rules_use_only_served_names(
    metric_settings: Settings, redis: Redis
) -> None:
    import json
    import re

    fill(metric_settings)
    text = scrape(WhisperopsCollector(lambda: redis))
    served = {family.name for family in text_string_to_metric_families(text)}
    assert len(served) == 20 and all(name.startswith("whisperops_") for name in served), served
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    queries = [
        (ROOT / "docs" / "alerts.yml").read_text(),
        *(target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])),
    ]
    used = {name for query in queries for name in re.findall(r"\bwhisper\w*_\w+", query)}
    # A family's series add _total (counters) or _bucket/_count/_sum (histograms).
    used = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    assert used and used <= served, used - served


def test_scrape_with_database_down_still_answers(metric_settings: Settings, redis: Redis) -> None:
    from whisperops.db import bind_database

    bind_database("postgresql://whisperops:pw@127.0.0.1:1/nowhere")
    try:
        found = samples(scrape(WhisperopsCollector(lambda: redis, now=frozen_now)))
    finally:
        bind_database(metric_settings.database_url.get_secret_value())
    assert found[("whisperops_database_up", ())] == 0
    assert found[("whisperops_redis_up", ())] == 1
    assert ("whisperops_queue_jobs", (("queue", "whisperops-transcribe"),)) in found


def test_scrape_with_redis_down_still_answers(metric_settings: Settings) -> None:
    def no_redis():
        return Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)

    found = samples(scrape(WhisperopsCollector(no_redis, now=frozen_now)))
    assert found[("whisperops_redis_up", ())] == 0
    assert found[("whisperops_database_up", ())] == 1
    assert ("whisperops_processing_recordings", ()) in found


# The exporter's queries run on both databases in test_metrics_from_db_and_redis; this
# is about another process reading while a worker writes: SQLite, where that can lock.
@ON_SQLITE
def test_live_scrape_sees_recording_in_processing(
    metric_settings: Settings,
    environ: dict[str, str],
    redis_url: str,
    long_speech_wav: Path,
    monkeypatch,
) -> None:
    """The exporter process, scraped over HTTP while a worker transcribes."""
    from whisperops import ops
    from whisperops.jobs.enqueue import enqueue_recording, transcribe_queue
    from whisperops.pipeline import job
    from whisperops.progress import ProgressEstimator

    port = free_port()
    exporter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "whisperops",
            "exporter",
            "--port",
            str(port),
        ],
        env={**_clean_env(), **environ, "REDIS_URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        recording_id = ops.ingest_file(long_speech_wav, metric_settings).recording_id
        queued = enqueue_recording(
            transcribe_queue(Redis.from_url(redis_url)),
            Recording.get_by_id(recording_id),
            metric_settings,
        )
        scraped: list[str] = []
        original = ProgressEstimator.on_segment

        def scrape_at_third_segment(self, decoded_sec: float) -> None:
            original(self, decoded_sec)
            if self.reports == 4:  # reported before the 4th segment is taken
                in_db = Recording.get_by_id(recording_id).processing_segments_count
                scraped.append((in_db, _http_get(f"http://127.0.0.1:{port}/metrics")))

        monkeypatch.setattr(ProgressEstimator, "on_segment", scrape_at_third_segment)
        assert job.process_recording(recording_id, queued.args[1]) == "done"
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    assert scraped, "the transcription never reached its third segment"
    in_db, text = scraped[0]
    found = samples(text)
    key = (("recording_id", str(recording_id)), ("step", "transcribe"))
    # The worker writes the count at most once a second; the scrape shows what is stored.
    assert in_db >= 1
    assert found[("whisperops_processing_segments", key)] == in_db
    assert found[("whisperops_processing_step", key)] == 1
    assert found[("whisperops_processing_recordings", ())] == 1
    assert Recording.get_by_id(recording_id).status is Status.DONE


def _clean_env() -> dict[str, str]:
    import os

    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL"} and not k.startswith("WHISPEROPS_")
    }


def _http_get(url: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
