"""A wrong environment (services down or misnamed, a port in use, a missing model, a
folder that cannot be written) gives one clear line with a hint, never a traceback;
`whisperops doctor` finds the same problems and says how to fix each."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import POSTGRES_PROBLEM, POSTGRES_URL, free_port
from tests.integration.cli_runner import ROOT, clean_environment, run_cli
from tests.privileges import without_read_override
from tests.refusing_postgres import RefusingPostgres
from tests.reliability.harness import Valkey, wait_until
from whisperops.health.service_errors import EX_UNAVAILABLE, Outage

SECRET = "Env-S3cret-pw"
BAD_SETTING = 2


@dataclass(frozen=True)
class Case:
    name: str
    env: dict[str, str]
    exit_code: int
    hints: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    prefix: tuple[str, ...] = ()  # e.g. so that file permissions apply to root


# Every command that opens the database; those that also need Redis after it.
DB_COMMANDS = (
    ("list",),
    ("show", "1"),
    ("requeue", "1"),
    ("fail", "1", "--reason", "test"),
    ("add", "{audio}"),
    ("migrate",),
    ("rediarize", "--pending"),
    ("sweep",),
    ("enqueue",),
    ("worker", "--burst"),
    ("worker", "--maintenance", "--burst"),
    ("scheduler", "--burst"),
    ("watch", "--once"),
    ("exporter", "--port", "{port}"),
    ("console",),
)
REDIS_COMMANDS = (
    ("sweep",),
    ("enqueue",),
    ("worker", "--burst"),
    ("worker", "--maintenance", "--burst"),
    ("scheduler", "--burst"),
)


def with_db(url: str, database: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{SECRET}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@pytest.fixture
def healthy(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """A working environment: migrated SQLite, the test Redis, folders in place."""
    env = {
        "WHISPEROPS_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'whisperops.db'}",
        "REDIS_URL": redis_url,
        "WHISPEROPS_SERVICE_WAIT_SEC": "0",
        "WHISPEROPS_EXPORTER_PORT": str(free_port()),
        "WHISPEROPS_WORKER_PROCESSES": "1",
        "WHISPEROPS_CPU_THREADS": "0",
        "WHISPEROPS_BATCH_SIZE": "0",
        "WHISPEROPS_DEVICE": "cpu",
    }
    assert run_cli(env, "migrate").returncode == 0
    for folder in ("output", "inbox"):
        (tmp_path / "data" / folder).mkdir(parents=True, exist_ok=True)
    return env


@pytest.fixture
def refusing_postgres() -> Iterator[RefusingPostgres]:
    server = RefusingPostgres()
    yield server
    server.close()


@pytest.fixture
def starting_postgres() -> Iterator[RefusingPostgres]:
    server = RefusingPostgres(starting=True)
    yield server
    server.close()


@pytest.fixture
def locked_valkey(tmp_path: Path) -> Iterator[Valkey]:
    server = Valkey(tmp_path / "valkey", password=SECRET)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def port_in_use() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def a_file_where_a_folder_goes(tmp_path: Path) -> Path:
    """A regular file: no folder can be created below it, even by root."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    return a_file


def cases(
    tmp_path: Path,
    redis_url: str,
    refusing: RefusingPostgres,
    starting: RefusingPostgres,
    locked: Valkey,
    port: int,
) -> list[Case]:
    down_db = free_port()
    down_redis = free_port()
    a_file = a_file_where_a_folder_goes(tmp_path)
    found = [
        Case(
            "PostgreSQL down",
            {"DATABASE_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:{down_db}/whisperops"},
            EX_UNAVAILABLE,
            ("PostgreSQL at postgresql://postgres:***@", f"running on 127.0.0.1:{down_db}?"),
            DB_COMMANDS,
        ),
        Case(
            "wrong PostgreSQL password",
            {"DATABASE_URL": refusing.url("alice", SECRET)},
            BAD_SETTING,
            ("refused user 'alice'", "fix the password in DATABASE_URL"),
            DB_COMMANDS,
        ),
        Case(
            "PostgreSQL starting up",
            {"DATABASE_URL": starting.url("alice", SECRET)},
            EX_UNAVAILABLE,
            ("is starting up or shutting down", "try again in a moment"),
            (("list",), ("worker", "--burst")),
        ),
        Case(
            "Redis down",
            {"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{down_redis}/0"},
            EX_UNAVAILABLE,
            ("Redis at redis://:***@", f"is Redis running on 127.0.0.1:{down_redis}?"),
            REDIS_COMMANDS,
        ),
        Case(
            "Redis DB index out of range",
            {"REDIS_URL": urlunsplit(urlsplit(redis_url)._replace(path="/99"))},
            BAD_SETTING,
            ("database 99 does not exist", "fix the DB index in REDIS_URL"),
            REDIS_COMMANDS,
        ),
        Case(
            "Redis needing a password",
            {"REDIS_URL": locked.url.replace(f":{SECRET}@", "")},
            BAD_SETTING,
            ("needs a password, or refused this one", "put it in REDIS_URL"),
            REDIS_COMMANDS,
        ),
        Case(
            "Redis refusing the password",
            {"REDIS_URL": locked.url.replace(SECRET, SECRET + "-wrong")},
            BAD_SETTING,
            ("Redis at redis://:***@", "put it in REDIS_URL"),
            (("sweep",),),
        ),
        Case(
            "missing model",
            {"WHISPEROPS_MODEL": "/nonexistent/model"},
            BAD_SETTING,
            ("no CTranslate2 model at /nonexistent/model (expected model.bin)", "use 'bundled'"),
            (("worker", "--burst"), ("calibrate",)),
        ),
        Case(
            "model name that cannot be downloaded here",
            {"WHISPEROPS_MODEL": "small.en", "HF_HUB_OFFLINE": "1"},
            BAD_SETTING,
            ("'small.en' is not downloaded on this host", "(offline); use 'bundled'"),
            (("worker", "--burst"),),
        ),
        Case(
            "output folder that cannot be created",
            {"WHISPEROPS_OUTPUT_DIR": str(a_file / "output")},
            BAD_SETTING,
            ("WHISPEROPS_OUTPUT_DIR: cannot create", "to a folder this user can write"),
            (("worker", "--burst"),),
        ),
        Case(
            "exporter port in use",
            {},
            BAD_SETTING,
            (f"port {port} on 127.0.0.1 is in use", "--port or WHISPEROPS_EXPORTER_PORT"),
            (("exporter", "--port", str(port)),),
        ),
    ]
    if POSTGRES_PROBLEM is None:
        found.append(
            Case(
                "PostgreSQL database missing",
                {"DATABASE_URL": with_db(POSTGRES_URL, "whisperops_no_such_db")},
                BAD_SETTING,
                ("database 'whisperops_no_such_db' does not exist", "create it"),
                DB_COMMANDS,
            )
        )
    return found


def test_each_command_in_each_broken_environment_says_one_line_with_the_fix(
    healthy: dict[str, str],
    tmp_path: Path,
    redis_url: str,
    refusing_postgres: RefusingPostgres,
    starting_postgres: RefusingPostgres,
    locked_valkey: Valkey,
    port_in_use: int,
    speech_wav: Path,
) -> None:
    found = cases(
        tmp_path, redis_url, refusing_postgres, starting_postgres, locked_valkey, port_in_use
    )
    values = {"audio": str(speech_wav), "port": str(free_port())}
    runs = [
        (case, tuple(part.format(**values) for part in command))
        for case in found
        for command in case.commands
    ]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(
            pool.map(
                lambda run: run_cli(
                    healthy | run[0].env, *run[1], timeout=60, prefix=run[0].prefix
                ),
                runs,
            )
        )
    problems = [
        problem
        for (case, command), out in zip(runs, outcomes, strict=True)
        for problem in problems_with(case, command, out)
    ]
    assert not problems, "\n".join(problems)


def test_output_folder_without_write_permission_says_one_line_with_the_fix(
    healthy: dict[str, str], tmp_path: Path
) -> None:
    """Its own test: it needs root's permission override dropped, which some machines cannot
    do, and the matrix above runs regardless."""
    read_only = tmp_path / "read-only-output"
    read_only.mkdir()
    read_only.chmod(0o555)
    case = Case(
        "output folder without write permission",
        {"WHISPEROPS_OUTPUT_DIR": str(read_only)},
        BAD_SETTING,
        ("is not writable by this user (Permission denied)", "fix its permissions"),
        (("worker", "--burst"),),
        without_read_override(tmp_path),
    )
    command = case.commands[0]
    out = run_cli(healthy | case.env, *command, timeout=60, prefix=case.prefix)
    problems = problems_with(case, command, out)
    assert not problems, "\n".join(problems)


def problems_with(
    case: Case, command: tuple[str, ...], out: subprocess.CompletedProcess[str]
) -> list[str]:
    """What is wrong with one run: its exit code, its one error line, a leak."""
    where = f"{case.name}, `whisperops {' '.join(command)}`"
    lines = out.stderr.strip().splitlines()
    problems = []
    if out.returncode != case.exit_code:
        problems.append(f"{where}: exit {out.returncode}, not {case.exit_code}: {lines}")
    if len(lines) != 1 or not lines[0].startswith("whisperops: error: "):
        problems.append(f"{where}: not one error line: {out.stderr[-1500:]}")
    elif not all(hint in lines[0] for hint in case.hints):
        problems.append(f"{where}: missing {case.hints} in {lines[0]}")
    if "Traceback" in out.stderr or SECRET in out.stdout + out.stderr:
        problems.append(f"{where}: a traceback or the secret: {out.stderr[-1500:]}")
    return problems


def test_debug_shows_the_traceback_for_a_bug_report_without_the_secret(
    healthy: dict[str, str],
) -> None:
    down = f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/whisperops"
    for args, env in (
        (("--debug", "list"), {"DATABASE_URL": down}),
        (("list",), {"DATABASE_URL": down, "WHISPEROPS_LOG_LEVEL": "debug"}),
    ):
        out = run_cli(healthy | env, *args)
        assert out.returncode == EX_UNAVAILABLE
        assert "Traceback (most recent call last)" in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("whisperops: error: PostgreSQL at")
        assert SECRET not in out.stderr


def test_a_worker_waits_a_bounded_time_for_redis_at_start_then_exits_69(
    healthy: dict[str, str],
) -> None:
    env = healthy | {
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "WHISPEROPS_SERVICE_WAIT_SEC": "2",
    }
    started = time.monotonic()
    out = run_cli(env, "worker", "--burst", timeout=60)
    took = time.monotonic() - started
    assert out.returncode == EX_UNAVAILABLE, out.stderr
    assert 2 <= took < 30  # the wait, and the process's start-up, not forever
    lines = out.stderr.strip().splitlines()
    assert sum("waiting up to 2s for it" in line for line in lines) == 1, lines
    assert lines[-1].startswith("whisperops: error: Redis at")


def test_a_worker_started_before_redis_goes_on_once_it_answers(
    healthy: dict[str, str], tmp_path: Path
) -> None:
    valkey = Valkey(tmp_path / "late-valkey")
    env = healthy | {"REDIS_URL": valkey.url, "WHISPEROPS_SERVICE_WAIT_SEC": "60"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "whisperops", "worker", "--burst"],
        env=clean_environment() | env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    silent_too_long = threading.Timer(60, worker.kill)  # the deadline of the read below
    silent_too_long.start()
    try:
        for line in worker.stderr:  # until the worker says it is waiting for Redis
            seen.append(line)
            if "waiting up to 60s for it" in line:
                break
        silent_too_long.cancel()
        assert seen and "waiting up to 60s for it" in seen[-1], seen
        valkey.start()
        _, rest = worker.communicate(timeout=120)
    finally:
        worker.kill()
        valkey.kill()
    stderr = "".join(seen) + rest
    assert worker.returncode == 0, stderr[-2000:]
    assert stderr.count("waiting up to 60s for it") == 1
    assert "Redis is reachable again" in stderr


def test_an_outage_is_logged_when_it_starts_and_when_it_ends_not_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage("Scheduler: Redis", logging.getLogger("test.outage"))
    with caplog.at_level(logging.INFO, logger="test.outage"):
        for _ in range(5):
            outage.down(ConnectionError("Error 111 connecting"))
        outage.up()
        outage.up()
        outage.down(ConnectionError("again"))
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3, messages
    assert messages[0].startswith("Scheduler: Redis unreachable: Error 111 connecting")
    assert messages[1].startswith("Scheduler: Redis reachable again after")
    assert messages[2].startswith("Scheduler: Redis unreachable: again")


def doctor(env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, dict]]:
    out = run_cli(env, "doctor", "--json", timeout=120)
    return out, {check["name"]: check for check in json.loads(out.stdout)["checks"]}


def test_doctor_on_a_healthy_host_shows_every_check_passing(healthy: dict[str, str]) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "whisperops", "worker", *extra],
            env=clean_environment() | healthy,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for extra in ((), ("--maintenance",))
    ]
    try:
        wait_until(lambda: doctor(healthy)[1]["workers"]["ok"], 90, "both workers online", 0.5)
        out = run_cli(healthy, "doctor", timeout=120)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    names = ["settings", "database", "clock", "redis", "workers", "model", "pyannote", "output"]
    names.append("inbox")
    for name in [*names, "exporter"]:
        assert any(line.startswith(f"✓ {name} ") for line in lines), (name, lines)
    assert not any(line.startswith("✗") for line in lines)
    assert lines[-1] == "all ok"
    assert "loads on cpu int8" in out.stdout


def test_doctor_names_what_is_broken_and_the_fix(
    healthy: dict[str, str],
    tmp_path: Path,
    redis_url: str,
    refusing_postgres: RefusingPostgres,
    port_in_use: int,
) -> None:
    a_file = a_file_where_a_folder_goes(tmp_path)
    broken = [
        (
            {"DATABASE_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/x"},
            "database",
            "is PostgreSQL running on 127.0.0.1:",
        ),
        ({"DATABASE_URL": refusing_postgres.url("alice", SECRET)}, "database", "DATABASE_URL"),
        ({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}, "database", "whisperops migrate"),
        (
            {"REDIS_URL": urlunsplit(urlsplit(redis_url)._replace(path="/99"))},
            "redis",
            "fix the DB index in REDIS_URL",
        ),
        ({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}, "redis", "is Redis running"),
        ({}, "workers", "whisperops worker"),
        ({"WHISPEROPS_MODEL": "/nonexistent/model"}, "model", "use 'bundled'"),
        ({"WHISPEROPS_OUTPUT_DIR": str(a_file / "out")}, "output", "WHISPEROPS_OUTPUT_DIR"),
        ({"WHISPEROPS_EXPORTER_PORT": str(port_in_use)}, "exporter", "WHISPEROPS_EXPORTER_PORT"),
        ({"WHISPEROPS_PYANNOTE_MODEL": str(tmp_path / "no-pipeline")}, "pyannote", "config.yaml"),
        # A setting that does not load: nothing else can be checked, and doctor says so.
        ({"WHISPEROPS_DIARIZATION_BACKEND": "pyannote"}, "settings", "WHISPEROPS_PYANNOTE_MODEL"),
    ]
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda case: doctor(healthy | case[0]), broken))
    for (_env, name, fix), (out, checks) in zip(broken, outcomes, strict=True):
        assert out.returncode == 1, (name, out.stderr)
        assert checks[name]["ok"] is False, (name, checks[name])
        assert fix in checks[name]["fix"] or fix in checks[name]["detail"], (name, checks[name])
        assert SECRET not in out.stdout + out.stderr
        assert "Traceback" not in out.stderr
