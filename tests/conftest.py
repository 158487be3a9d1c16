"""Shared fixtures: real SQLite and PostgreSQL, real Redis or embedded Valkey.

PostgreSQL: WHISPEROPS_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test.
Each run works in a database of its own, created and dropped around the session.
When PostgreSQL is unreachable its tests are skipped with the reason, unless
WHISPEROPS_REQUIRE_POSTGRES=1 (set by CI), which turns that into an error.

Redis: REDIS_URL, else 127.0.0.1:6379 when it answers, else an embedded Valkey.

pyannote.audio (the diarization extra): its tests are skipped when it is not
installed, unless WHISPEROPS_REQUIRE_DIARIZATION=1 (set by CI).

promtool (tests/integration/test_metrics.py) and dropping root's read override with
setpriv (tests/privileges.py) likewise: skipped with the reason when missing, failed
instead under WHISPEROPS_REQUIRE_PROMTOOL=1 and WHISPEROPS_REQUIRE_PRIVILEGES=1 (set by CI).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from redis import Redis

from tests.audio import write_tone_wav
from whisperops.config import Settings, load_settings
from whisperops.db import bind_database
from whisperops.migrations import migrate
from whisperops.redis_server import ensure_embedded_valkey, stop_embedded_valkey

# pyannote.audio switches its usage telemetry on at import unless this is set; the
# tests never phone home.
os.environ["PYANNOTE_METRICS_ENABLED"] = "false"

POSTGRES_URL = os.environ.get(
    "WHISPEROPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/15"


def _postgres_problem() -> str | None:
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {str(exc).strip().splitlines()[0]}"
    return None


def _local_redis_answers() -> bool:
    try:
        return Redis.from_url(LOCAL_REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:
        return False


POSTGRES_PROBLEM = _postgres_problem()


def skip_unless_required(flag: str, reason: str) -> NoReturn:
    """Skip the calling test for ``reason``, or fail it when ``flag`` is 1 (CI sets it)."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{flag}=1 but {reason}")
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    postgres = (
        f"postgresql ({POSTGRES_URL})"
        if POSTGRES_PROBLEM is None
        else f"postgresql SKIPPED: {POSTGRES_PROBLEM}"
    )
    redis = (os.environ.get("REDIS_URL") and "REDIS_URL") or (
        LOCAL_REDIS_URL if _local_redis_answers() else "embedded Valkey"
    )
    return [f"whisperops DB backends: sqlite, {postgres}", f"whisperops Redis: {redis}"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own on the PostgreSQL server."""
    if POSTGRES_PROBLEM is not None:
        skip_unless_required("WHISPEROPS_REQUIRE_POSTGRES", POSTGRES_PROBLEM)
    name = f"whisperops_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(POSTGRES_URL)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    try:
        yield url
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _reset_postgres_schema(url: str) -> None:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    connection.close()


# A slow scenario whose database adds nothing runs on one of them (the suite stays
# under 30 minutes): the other's path through it is the same ORM calls, tested elsewhere.
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'whisperops.db'}"
    url = request.getfixturevalue("postgres_url")
    _reset_postgres_schema(url)
    return url


def require_pyannote() -> None:
    """Skip the calling test without the diarization extra (fail instead in CI)."""
    if os.environ.get("WHISPEROPS_REQUIRE_DIARIZATION") == "1":
        import pyannote.audio  # noqa: F401  (an ImportError here fails the test)
    else:
        pytest.importorskip("pyannote.audio", reason="the diarization extra is not installed")


@pytest.fixture
def environ(tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment for a whisperops process working in this test's folders."""
    return {
        "WHISPEROPS_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        # One sequential process with CTranslate2's default threads (the fastest for
        # one stream alone) unless a test asks for a pool, replicas or batching: the
        # calibration that 'auto' runs is tested on its own.
        "WHISPEROPS_WORKER_PROCESSES": "1",
        "WHISPEROPS_CPU_THREADS": "0",
        "WHISPEROPS_BATCH_SIZE": "0",
    }


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return load_settings(environ=environ)


@pytest.fixture
def db(settings: Settings):
    database = bind_database(settings.database_url.get_secret_value())
    yield database
    database.close()


@pytest.fixture
def migrated_db(db):
    migrate(db, log=lambda _line: None)
    return db


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """A folder with two distinct short WAV files."""
    folder = tmp_path / "audio"
    folder.mkdir()
    write_tone_wav(folder / "call one.wav", frequency=440)
    write_tone_wav(folder / "call-two.wav", frequency=660)
    return folder


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL, the local server, or an embedded Valkey."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif _local_redis_answers():
        yield LOCAL_REDIS_URL
    else:
        data_dir = tmp_path_factory.mktemp("valkey")
        yield ensure_embedded_valkey(data_dir).url
        stop_embedded_valkey(data_dir)


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 11 seconds of real synthesized speech (tests.audio.SPEECH_TEXT)."""
    from tests.audio import write_speech_wav

    return write_speech_wav(tmp_path_factory.mktemp("speech") / "support-call.wav")


@pytest.fixture(scope="session")
def long_speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 65 seconds of speech: several 30-second decoding windows."""
    from tests.audio import SPEECH_TEXT, write_speech_wav

    return write_speech_wav(
        tmp_path_factory.mktemp("speech") / "long-call.wav", text=" ".join([SPEECH_TEXT] * 6)
    )
