"""Ingest, enqueue and run recordings through a real burst worker, as the stack does."""

from __future__ import annotations

from pathlib import Path

from redis import Redis

from whisperops import ops
from whisperops.config import Settings
from whisperops.jobs.enqueue import enqueue_recording, transcribe_queue
from whisperops.models import Recording
from whisperops.worker.rq_workers import build_transcribe_worker


def ingest(settings: Settings, path: Path) -> Recording:
    result = ops.ingest_file(path, settings)
    assert result.outcome == "added", result.reason
    return Recording.get_by_id(result.recording_id)


def enqueue(settings: Settings, recording: Recording) -> int:
    """Enqueue the recording's next attempt; returns that attempt."""
    queue = transcribe_queue(Redis.from_url(settings.redis_url.get_secret_value()))
    queued = enqueue_recording(queue, Recording.get_by_id(recording.id), settings)
    assert queued is not None
    return queued.args[1]


def run_burst(settings: Settings) -> None:
    assert build_transcribe_worker(settings).work(burst=True) is True


def process(settings: Settings, path: Path) -> Recording:
    """Ingest, enqueue and run one file; the recording as the worker left it."""
    recording = ingest(settings, path)
    enqueue(settings, recording)
    run_burst(settings)
    return Recording.get_by_id(recording.id)
