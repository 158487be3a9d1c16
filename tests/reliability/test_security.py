"""Secrets stay secret and file names stay text: CLI, worker logs, console, metrics."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from textual.widgets import DataTable

from tests.conftest import ON_POSTGRESQL, free_port
from tests.console.test_console import wait_for
from tests.integration.cli_runner import ROOT, clean_environment, run_cli
from tests.reliability.harness import Valkey, scrape
from whisperops.config import load_settings
from whisperops.console.app import build_app
from whisperops.console.screens.detail import DetailScreen
from whisperops.db import bind_database

DB_PASSWORD = "Db-S3cret-pw"
REDIS_PASSWORD = "Redis-S3cret-pw"
HF_TOKEN = "hf_S3cretT0kenValue"
SECRETS = (DB_PASSWORD, REDIS_PASSWORD, HF_TOKEN)
HOSTILE_NAME = "[bold red]alert \x1b[2J evil\nname.wav"  # markup, an escape, a newline


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp*)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


@contextmanager
def exporter(env: dict[str, str], *args: str, log: Path | None = None) -> Iterator[None]:
    """`whisperops exporter ARGS` running with ``env``; its output goes to ``log``."""
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "whisperops", "exporter", *args],
        env=clean_environment() | env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)
        if log:
            out.close()


@pytest.fixture
def locked_valkey(tmp_path: Path):
    server = Valkey(tmp_path / "valkey", password=REDIS_PASSWORD)
    server.start()
    yield server
    server.kill()


@ON_POSTGRESQL
async def test_no_secret_or_markup_escapes(
    database_url: str, locked_valkey: Valkey, speech_wav: Path, tmp_path: Path
) -> None:
    # PostgreSQL here trusts local connections, so any password is accepted: what
    # matters is that whisperops never shows it.
    env = {
        "DATABASE_URL": with_password(database_url, DB_PASSWORD),
        "REDIS_URL": locked_valkey.url,
        "WHISPEROPS_DATA_DIR": str(tmp_path / "data"),
        "WHISPEROPS_HF_TOKEN": HF_TOKEN,
        # A hub id, offline: the token goes into pyannote's download call, which fails.
        "WHISPEROPS_PYANNOTE_MODEL": "pyannote/speaker-diarization-community-1",
        "HF_HUB_OFFLINE": "1",
        "WHISPEROPS_LOG_LEVEL": "debug",
    }
    hostile = tmp_path / HOSTILE_NAME
    hostile.write_bytes(speech_wav.read_bytes())
    runs = {"migrate": run_cli(env, "migrate"), "add": run_cli(env, "add", str(hostile))}
    runs |= {command: run_cli(env, command) for command in ("config", "list", "sweep")}
    runs["worker"] = run_cli(env, "worker", "--burst", timeout=300)
    runs["show"] = run_cli(env, "show", "1")
    runs["config hf_token"] = run_cli(env, "config", "hf_token")
    # Failures quote URLs too: an unreachable database and a wrong Redis password.
    down = with_password(f"postgresql://127.0.0.1:{free_port()}/x", DB_PASSWORD)
    runs["db down"] = run_cli({**env, "DATABASE_URL": down}, "list")
    wrong = locked_valkey.url.replace(REDIS_PASSWORD, REDIS_PASSWORD + "-wrong")
    runs["wrong redis password"] = run_cli({**env, "REDIS_URL": wrong}, "sweep")
    # The exporter connects with the same URLs and token; its page and its log.
    port = free_port()
    exporter_log = tmp_path / "exporter.log"
    with exporter(env, "--port", str(port), log=exporter_log):
        metrics = scrape(f"http://127.0.0.1:{port}/metrics")
    # Scraped with both passwords in use: the database and Redis answered.
    assert "whisperops_database_up 1.0" in metrics and "whisperops_redis_up 1.0" in metrics
    assert 'whisperops_recordings{status="done"} 1.0' in metrics  # the hostile name's
    text = "\n".join(out.stdout + out.stderr for out in runs.values())
    text += "\n" + metrics + "\n" + exporter_log.read_text(errors="replace")

    assert runs["worker"].returncode == 0, runs["worker"].stderr
    assert "Step diarization failed: " in runs["show"].stdout  # the token was in play
    assert "hf_token" in runs["config"].stdout and "***" in runs["config"].stdout
    assert runs["db down"].returncode != 0 and runs["wrong redis password"].returncode != 0
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked"
    # The file name is shown as text: no raw escape or newline reaches the terminal.
    assert "\x1b" not in text
    assert "'[bold red]alert \\x1b[2J evil\\nname.wav'" in runs["worker"].stderr
    assert "[bold red]alert \\x1b[2J evil\\nname.wav" in runs["list"].stdout

    settings = load_settings(environ=env)
    bind_database(settings.database_url.get_secret_value())
    app = build_app(settings, refresh_sec=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.query_one(DataTable).row_count >= 1)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, DetailScreen)
                and "Steps:" in str(app.screen.query_one("#detail-body").render())
            ),
        )
        screen = app.export_screenshot()
    assert "[bold&#160;red]alert" in screen or "[bold red]alert" in screen
    for secret in SECRETS:
        assert secret not in screen


def test_exporter_binds_loopback_unless_told(
    environ: dict[str, str], redis_url: str, migrated_db
) -> None:
    env = environ | {"REDIS_URL": redis_url}
    port = free_port()
    with exporter(env, "--port", str(port)):
        assert "whisperops_database_up 1.0" in scrape(f"http://127.0.0.1:{port}/metrics")
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only

    # --host: another loopback address, so the test can show that is the only one.
    host = "127.0.0.2"
    port = free_port(host)
    with exporter(env, "--host", host, "--port", str(port)):
        assert "whisperops_database_up 1.0" in scrape(f"http://{host}:{port}/metrics")
        assert listening_addresses(port) == {"0200007F"}  # 127.0.0.2 only
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
