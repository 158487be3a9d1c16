"""The whole stack from the Procfile under honcho, on the embedded defaults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.audio import write_speech_wav
from tests.conftest import free_port
from tests.integration.cli_runner import stack_environment, start_stack
from whisperops.config import load_settings
from whisperops.db import bind_database
from whisperops.models import Recording, Status
from whisperops.redis_server import read_embedded
from whisperops.worker.layout import resolve_layout


def descendants(root: int) -> set[int]:
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in table.stdout.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its parent counts as gone.
    state = Path(f"/proc/{pid}/stat")
    return state.exists() and state.read_text().split()[2] != "Z"


@pytest.fixture
def stack(tmp_path: Path):
    data_dir = tmp_path / "data"
    port = free_port()
    env = stack_environment(
        data_dir,
        port,
        WHISPEROPS_SWEEP_INTERVAL_SEC="2",
        WHISPEROPS_WATCHER_POLL_SEC="1",
        WHISPEROPS_WATCHER_STABLE_SEC="1",
        WHISPEROPS_HEARTBEAT_INTERVAL_SEC="1",
    )
    honcho = start_stack(env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield honcho, data_dir, port, env
    finally:
        if honcho.poll() is None:
            # SIGTERM first: honcho stops its processes, which run in sessions of their
            # own that a SIGKILL of its group would leave running after a failed test.
            os.killpg(honcho.pid, signal.SIGTERM)
            try:
                honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(honcho.pid, signal.SIGKILL)
        server = read_embedded(data_dir)
        if server is not None:
            os.kill(server.pid, signal.SIGKILL)


def test_stack_processes_inbox_then_stops_on_sigterm(stack, tmp_path: Path) -> None:
    honcho, data_dir, port, env = stack
    inbox = data_dir / "inbox"
    staging = tmp_path / "staging"
    staging.mkdir()
    write_speech_wav(staging / "call-one.wav")
    write_speech_wav(
        staging / "call-two.wav",
        text="Please send the invoice to the new address before Friday, thank you.",
        voice="en+f3",
    )
    (staging / "corrupt.wav").write_bytes(os.urandom(20_000))
    deadline = time.monotonic() + 60
    while not inbox.exists():  # the watcher creates it when it starts
        assert honcho.poll() is None, honcho.stdout.read()
        assert time.monotonic() < deadline, "the watcher never started"
        time.sleep(0.2)
    for path in staging.iterdir():
        os.replace(path, inbox / path.name)  # dropped in whole, as a copy tool would finish

    bind_database(f"sqlite:///{data_dir / 'whisperops.db'}")
    deadline = time.monotonic() + 240  # the worker calibrates first (under a minute)
    while True:
        rows = {r.file_name: r for r in Recording.select()}
        finished = [r for r in rows.values() if r.status in (Status.DONE, Status.FAILED)]
        if len(finished) == 3:
            break
        assert honcho.poll() is None, "the stack died"
        assert time.monotonic() < deadline, (
            f"not finished: {[(n, r.status) for n, r in rows.items()]}"
        )
        time.sleep(0.5)

    assert rows["call-one.wav"].status is Status.DONE
    assert rows["call-two.wav"].status is Status.DONE
    assert rows["corrupt.wav"].status is Status.FAILED
    assert rows["corrupt.wav"].error_message.startswith(
        "Step extract_metadata failed: corrupt.wav is not readable audio"
    )
    outputs = sorted(p.name for p in (data_dir / "output").iterdir())
    assert len([name for name in outputs if name.endswith((".json", ".srt", ".vtt", ".txt"))]) == 8
    assert not [name for name in outputs if name.startswith(".")]  # no temp files left

    server = read_embedded(data_dir)
    assert server is not None
    info = subprocess.run(
        [str(Path(sys.executable).parent / "rq"), "info", "--url", server.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert "whisperops-transcribe" in info.stdout and "whisperops-maintenance" in info.stdout
    # The default worker layout is 'auto': the worker calibrated as the stack started,
    # cached the choice, and runs that many transcribe processes beside the maintenance one.
    settings = load_settings(environ={"WHISPEROPS_DATA_DIR": str(data_dir)})
    processes = resolve_layout(settings).processes
    assert (data_dir / "calibration.json").exists()
    assert f"{processes + 1} workers" in info.stdout, info.stdout

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    assert 'whisperops_recordings{status="done"} 2.0' in metrics
    assert 'whisperops_recordings{status="failed"} 1.0' in metrics

    processes = descendants(honcho.pid) | {honcho.pid}
    assert server.pid in processes  # the embedded Valkey is the Procfile's own process
    honcho.send_signal(signal.SIGTERM)
    honcho.wait(timeout=15)
    deadline = time.monotonic() + 10
    while [pid for pid in processes if alive(pid)]:
        assert time.monotonic() < deadline, f"still running: {[p for p in processes if alive(p)]}"
        time.sleep(0.1)
