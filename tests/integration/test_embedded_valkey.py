"""The embedded Valkey: one server per data dir, shared by every process."""

from pathlib import Path

import pytest
from redis import Redis

from tests.integration.cli_runner import run_cli
from whisperops.redis_server import ensure_embedded_valkey, read_embedded, stop_embedded_valkey


def test_started_once_and_reused(tmp_path: Path) -> None:
    try:
        first = ensure_embedded_valkey(tmp_path)
        client = Redis.from_url(first.url)
        client.set("whisperops-test", "1")
        second = ensure_embedded_valkey(tmp_path)
        assert second == first
        # Another process (the CLI) finds the same server through the data dir.
        printed = run_cli({"WHISPEROPS_DATA_DIR": str(tmp_path)}, "valkey", "url")
        assert printed.stdout.strip() == first.url
        assert Redis.from_url(printed.stdout.strip()).get("whisperops-test") == b"1"
    finally:
        stopped = stop_embedded_valkey(tmp_path)
    assert stopped is not None and stopped.pid == first.pid
    assert read_embedded(tmp_path) is None


def test_restarts_after_server_died(tmp_path: Path) -> None:
    import os
    import signal
    import time

    first = ensure_embedded_valkey(tmp_path)
    try:
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while read_embedded(tmp_path) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        second = ensure_embedded_valkey(tmp_path)
        assert second.pid != first.pid
        assert Redis.from_url(second.url).ping()
    finally:
        stop_embedded_valkey(tmp_path)


def test_cli_start_and_stop(tmp_path: Path) -> None:
    env = {"WHISPEROPS_DATA_DIR": str(tmp_path)}
    started = run_cli(env, "valkey", "start")
    assert started.returncode == 0, started.stderr
    assert "embedded Valkey running" in started.stdout
    stopped = run_cli(env, "valkey", "stop")
    assert "stopped embedded Valkey pid" in stopped.stdout
    assert "no embedded Valkey was running" in run_cli(env, "valkey", "stop").stdout


def test_redis_url_setting_wins(tmp_path: Path, redis_url: str) -> None:
    printed = run_cli(
        {"WHISPEROPS_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url}, "valkey", "url"
    )
    assert printed.stdout.strip() == redis_url
    assert read_embedded(tmp_path) is None


def test_foreground_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
        "WHISPEROPS_DATA_DIR": str(tmp_path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "whisperops", "valkey", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        server = None
        deadline = time.monotonic() + 10
        while server is None and time.monotonic() < deadline:
            server = read_embedded(tmp_path)
            time.sleep(0.05)
        assert server is not None and Redis.from_url(server.url).ping()
        # Other processes reuse it rather than starting a second server.
        assert ensure_embedded_valkey(tmp_path) == server
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert read_embedded(tmp_path) is None
        with pytest.raises(ProcessLookupError):
            os.kill(server.pid, 0)  # the server went with the process that ran it
    finally:
        if process.poll() is None:
            process.kill()
