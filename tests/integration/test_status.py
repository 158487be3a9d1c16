"""`whisperops status`, the console's backlog and the exporter's backlog families, over
known rows and step history on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue, Worker

from tests.integration.cli_runner import run_cli
from whisperops.backlog import read_backlog
from whisperops.clock import as_utc, utcnow
from whisperops.config import Settings
from whisperops.console.snapshot import Query, take_snapshot
from whisperops.jobs.names import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
from whisperops.models import Recording, Status, StepOutcome, StepRun
from whisperops.monitoring.metrics import WhisperopsCollector
from whisperops.runtime import init_runtime
from whisperops.status_report import StatusReport

BYTES_PER_SEC = 32_000  # 16 kHz mono 16-bit WAV
# The recent work, finished and running, went at 5 audio seconds per wall second:
# 550 s of audio are left (queued 200 estimated + 50 known; processing 200 + 100),
# and two workers finish the last job 60 s from now (worked out in the test).
PACE = 5.0
AUDIO_LEFT = 550.0
ETA = 60.0
# Running attempts keep working while a test reads: a CLI that starts a second later
# sees a slightly slower pace, so the ETA is checked to the few seconds that makes.
LINE = re.compile(r"backlog ≈9m10s audio · ~1m0[0-4]s at current pace \(2 workers\)")


def _recording(name: str, status: Status, **fields) -> Recording:
    now = utcnow()
    defaults = {
        "file_path": f"/archive/{name}",
        "file_name": name,
        "sha256": hashlib.sha256(name.encode()).hexdigest(),
        "size_bytes": 1000,
        "status": status,
        "created_at": now - timedelta(hours=1),
        "updated_at": now - timedelta(minutes=10),
    }
    return Recording.create(**{**defaults, **fields})


def _steps(recording: Recording, attempt: int, start: datetime, wall: float, steps=None) -> None:
    """Step runs of one attempt spanning ``wall`` seconds: transcribe between two short ones."""
    steps = steps or [
        ("parse_metadata", 0, 1),
        ("transcribe", 1, wall - 1),
        ("store_results", wall - 1, wall),
    ]
    for step, begin, end in steps:
        StepRun.create(
            recording=recording,
            attempt=attempt,
            step=step,
            started_at=start + timedelta(seconds=begin),
            finished_at=start + timedelta(seconds=end),
            outcome=StepOutcome.OK,
        )


def fill_backlog() -> datetime:
    """Done, queued and processing recordings with a known step history.

    In the pace's window: three done ones (1000 s of audio in 200 worker-seconds) and
    three running ones (200 s decoded in 36 s, 0 in 4 s, 70 s in 14 s): 1270 / 254 = 5.
    Outside it, or decoding nothing, two that would change it if they were counted.
    """
    now = utcnow()
    for ended_ago, duration, wall in ((600, 100.0, 20), (480, 300.0, 60), (360, 600.0, 120)):
        finished = now - timedelta(seconds=ended_ago)
        started = finished - timedelta(seconds=wall)
        done = _recording(
            f"done-{duration:.0f}.wav",
            Status.DONE,
            attempt=2,
            duration_sec=duration,
            size_bytes=int(duration * BYTES_PER_SEC),
            processing_started_at=started,
            processed_at=finished,
            updated_at=finished,
        )
        _steps(done, 2, started, wall)
        # An earlier attempt (a worker lost mid-way) is not the one that finished it.
        _steps(done, 1, started - timedelta(hours=1), 5000)
    # Too long ago for the window: 1000 s of audio in 10 s would double the pace.
    old = _recording(
        "old.wav",
        Status.DONE,
        attempt=1,
        duration_sec=1000.0,
        size_bytes=int(1000 * BYTES_PER_SEC),
        processing_started_at=now - timedelta(minutes=30, seconds=10),
        processed_at=now - timedelta(minutes=30),
        updated_at=now - timedelta(minutes=30),
    )
    _steps(old, 1, now - timedelta(minutes=30, seconds=10), 10)
    # Re-diarized in the window: its attempt decoded nothing, so it says nothing about
    # the pace (9000 s in 2 s, were it counted).
    rediarized = _recording(
        "rediarized.wav",
        Status.DONE,
        attempt=3,
        duration_sec=9000.0,
        size_bytes=10,
        processing_started_at=now - timedelta(seconds=122),
        processed_at=now - timedelta(seconds=120),
        updated_at=now - timedelta(seconds=120),
    )
    _steps(rediarized, 3, now - timedelta(seconds=122), 2, steps=[("diarization", 0, 2)])
    _recording(
        "new.wav",
        Status.QUEUED,
        size_bytes=200 * BYTES_PER_SEC,
        updated_at=now - timedelta(hours=2),
    )
    _recording("known.wav", Status.QUEUED, duration_sec=50.0, size_bytes=1)
    _recording(
        "decoding.wav",
        Status.PROCESSING,
        attempt=1,
        processing_step="transcribe",
        duration_sec=400.0,
        progress_ratio=0.5,
        processing_started_at=now - timedelta(seconds=36),
    )
    _recording(
        "probing.wav",
        Status.PROCESSING,
        attempt=1,
        processing_step="extract_metadata",
        size_bytes=100 * BYTES_PER_SEC,
        processing_started_at=now - timedelta(seconds=4),
    )
    _recording(
        "storing.wav",
        Status.PROCESSING,
        attempt=1,
        processing_step="store_results",
        duration_sec=70.0,
        processing_started_at=now - timedelta(seconds=14),
    )
    _recording("broken.wav", Status.FAILED, attempt=1)
    return now


def register_workers(redis: Redis, count: int) -> None:
    """Real RQ worker registrations: ``count`` transcribe workers and one maintenance one."""
    for i in range(count):
        Worker(
            [Queue(TRANSCRIBE_QUEUE, connection=redis)], connection=redis, name=f"t{i}"
        ).register_birth()
    Worker(
        [Queue(MAINTENANCE_QUEUE, connection=redis)], connection=redis, name="m"
    ).register_birth()


@pytest.fixture
def status_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    configured = settings.replace(redis_url=redis_url)
    init_runtime(configured)
    return configured


def _env(settings: Settings, tmp_path: Path, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "REDIS_URL": redis_url,
        "WHISPEROPS_DATA_DIR": str(tmp_path / "data"),
    }


def test_status_json_gives_exact_backlog_and_eta(
    status_settings: Settings, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    filled = fill_backlog()
    register_workers(redis, 2)
    result = run_cli(_env(status_settings, tmp_path, redis_url), "status", "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, StatusReport.model_json_schema())
    report = StatusReport.model_validate(data)
    assert report.counts == {
        Status.QUEUED: 2,
        Status.PROCESSING: 3,
        Status.DONE: 5,
        Status.FAILED: 1,
    }
    assert report.workers_online == 2
    assert report.queue_depths == {TRANSCRIBE_QUEUE: 0, MAINTENANCE_QUEUE: 0}
    backlog = report.backlog
    assert (backlog.queued, backlog.queued_estimated, backlog.processing) == (2, 1, 3)
    assert backlog.queued_audio_sec == pytest.approx(250)
    assert backlog.processing_remaining_sec == pytest.approx(300)
    assert backlog.audio_sec == pytest.approx(AUDIO_LEFT)
    # The three running attempts kept working while the CLI started: each added the
    # seconds since fill_backlog to the busy time, with no audio (fixed progress).
    elapsed = (report.generated_at - as_utc(filled)).total_seconds()
    assert backlog.pace == pytest.approx(1270 / (254 + 3 * elapsed), rel=1e-3)
    assert backlog.eta_sec == pytest.approx(ETA, rel=0.05)
    assert LINE.fullmatch(backlog.line), backlog.line
    assert report.intake.paused is False and report.redis_error is None


def test_status_text(
    status_settings: Settings, redis: Redis, redis_url: str, tmp_path: Path
) -> None:
    fill_backlog()
    register_workers(redis, 2)
    result = run_cli(_env(status_settings, tmp_path, redis_url), "status", timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "recordings  queued 2 · processing 3 · done 5 · failed 1"
    assert lines[1].startswith("backlog     ") and LINE.fullmatch(lines[1][12:]), lines[1]
    assert lines[2:] == [
        "workers     2 transcribe online",
        "queues      transcribe 0 maintenance 0",
        "intake      running",
    ]


def test_status_answers_with_redis_down(status_settings: Settings, tmp_path: Path) -> None:
    fill_backlog()
    env = _env(status_settings, tmp_path, "redis://127.0.0.1:1/0")
    text = run_cli(env, "status", timeout=60)
    assert text.returncode == 0, text.stderr
    assert "backlog     backlog ≈9m10s audio · workers unknown (Redis down)" in text.stdout
    assert "workers     unknown (Redis: " in text.stdout
    report = StatusReport.model_validate_json(run_cli(env, "status", "--json", timeout=60).stdout)
    assert report.workers_online is None and report.queue_depths is None
    assert report.redis_error and report.backlog.eta_sec is None
    assert report.backlog.audio_sec == pytest.approx(AUDIO_LEFT)


def test_console_snapshot_reads_the_backlog(status_settings: Settings, redis: Redis) -> None:
    fill_backlog()
    register_workers(redis, 3)
    snapshot = take_snapshot(status_settings, Query(), lambda: redis)
    assert snapshot.backlog is not None
    # Three workers: the running jobs take them (40, 20, 0 s left), then 40 and 10 more.
    assert snapshot.backlog.describe() == "backlog ≈9m10s audio · ~40s at current pace (3 workers)"
    down = take_snapshot(status_settings, Query(), lambda: Redis.from_url("redis://127.0.0.1:1/0"))
    assert down.redis_error and down.backlog is not None
    assert down.backlog.audio_sec == pytest.approx(AUDIO_LEFT)


def test_max_in_flight_bounds_the_workers(status_settings: Settings) -> None:
    fill_backlog()
    backlog = read_backlog(status_settings.replace(max_in_flight=1), 4, utcnow())
    assert backlog.workers == 1
    # One job at a time: the longest running one's 40 s left, then the queued 40 and 10 s.
    assert backlog.eta_sec == pytest.approx(40 + 40 + 10, rel=0.01)


def _samples(collector: WhisperopsCollector) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(("whisperops_backlog", "whisperops_pace"))
    }


def test_exporter_serves_the_backlog(status_settings: Settings, redis: Redis) -> None:
    assert _samples(WhisperopsCollector(lambda: redis)) == {
        "whisperops_backlog_audio_seconds": 0.0,
        "whisperops_backlog_eta_seconds": 0.0,
    }
    fill_backlog()
    register_workers(redis, 2)
    found = _samples(WhisperopsCollector(lambda: redis))
    assert found["whisperops_backlog_audio_seconds"] == pytest.approx(AUDIO_LEFT)
    assert found["whisperops_backlog_eta_seconds"] == pytest.approx(ETA, rel=0.05)
    assert found["whisperops_pace_audio_seconds_per_second"] == pytest.approx(PACE, rel=0.01)
    # Redis down: no ETA sample (unknown), the audio still.
    down = _samples(WhisperopsCollector(lambda: Redis.from_url("redis://127.0.0.1:1/0")))
    assert "whisperops_backlog_eta_seconds" not in down
    assert down["whisperops_backlog_audio_seconds"] == pytest.approx(AUDIO_LEFT)


def test_rediarizations_are_not_transcription_work(status_settings: Settings) -> None:
    fill_backlog()
    now = utcnow()
    # Two hours of audio each, queued for and in re-diarization: their transcripts are
    # kept, so neither adds audio to the backlog nor makes the pace look faster.
    _recording("again.wav", Status.QUEUED, duration_sec=7200.0, resume_from_step="diarization")
    _recording(
        "rediarizing.wav",
        Status.PROCESSING,
        attempt=2,
        processing_step="diarization",
        duration_sec=7200.0,
        resume_from_step="diarization",
        processing_started_at=now - timedelta(seconds=10),
    )
    backlog = read_backlog(status_settings, 2, utcnow())
    assert backlog.audio_sec == pytest.approx(AUDIO_LEFT)
    assert backlog.pace == pytest.approx(PACE, rel=0.01)
