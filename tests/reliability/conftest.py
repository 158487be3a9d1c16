"""Fixtures for the reliability suite: settings whose folders and DB the worker
subprocesses share, and long real speech to crash a worker in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from tests.audio import SPEECH_TEXT, write_speech_wav
from tests.conftest import skip_unless_required
from tests.real_speech import real_recording
from tests.reliability.harness import Valkey
from tests.reliability.postgres_server import PostgresServer, unavailable
from whisperops.config import Settings
from whisperops.runtime import init_runtime

# The slowest scenarios run on one backend each (ON_SQLITE, ON_POSTGRESQL in
# tests/conftest.py): crashes on SQLite (the laptop default), Redis faults and load on
# PostgreSQL (the scale-out setup). Contention runs on both.


@pytest.fixture
def rel_settings(settings: Settings, redis_url: str, redis: Redis, migrated_db) -> Settings:
    """Short intervals, as the reliability tests run them; the DB is migrated."""
    configured = settings.replace(
        redis_url=redis_url,
        heartbeat_interval_sec=1,
        stuck_processing_threshold_sec=3,
        max_retries=5,
        diarization_backend="none",
    )
    init_runtime(configured)
    return configured


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[Valkey]:
    """Redis of this test's own, to kill, restart and flush: the scheduler's keys and
    RQ's registries are global to a Redis, not to one database number."""
    server = Valkey(tmp_path / "valkey")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, running, with an empty database."""
    problem = unavailable()
    if problem is not None:
        skip_unless_required("WHISPEROPS_REQUIRE_POSTGRES", problem)
    server = PostgresServer()
    try:
        server.start()
        server.create_database()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def real_interview(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two minutes of real speech, decoded a segment every few seconds (espeak-ng's
    regular speech may come out of tiny.en as two long segments at the very end)."""
    return real_recording(tmp_path_factory.mktemp("real") / "interview.wav", copies=4)


@pytest.fixture(scope="session")
def three_minute_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 3 minutes of speech: six decoding windows, long enough to crash inside."""
    return write_speech_wav(
        tmp_path_factory.mktemp("speech") / "board meeting.wav", text=" ".join([SPEECH_TEXT] * 16)
    )
