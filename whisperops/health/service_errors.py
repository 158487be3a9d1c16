"""Failures of the surroundings (database, Redis, ports, model) as one line with a hint.

A command that meets PostgreSQL down, a Redis DB index that does not exist or a port
in use should say so in the operator's words, not in a driver's traceback. Each
failure is either a service that is unavailable (exit status 69, sysexits'
EX_UNAVAILABLE: try again when it is back) or a setting to fix (exit status 2).
URLs are shown with any password as ``***``.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from whisperops.config import Settings, mask_secret_url
from whisperops.errors import ConfigError, WhisperopsError

EX_UNAVAILABLE = 69

log = logging.getLogger(__name__)
T = TypeVar("T")


class ServiceUnavailable(WhisperopsError):
    """A service the command needs cannot be reached."""

    exit_code = EX_UNAVAILABLE


def _host_port(url: str, default_port: int) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or default_port}"


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "?"


def database_error(exc: BaseException, url: str) -> WhisperopsError | None:
    """The operator error for a failure opening or using the database at ``url``."""
    import peewee

    if not isinstance(exc, peewee.OperationalError | peewee.InterfaceError):
        return None
    text = str(exc)
    shown = mask_secret_url(url)
    if url.startswith("sqlite"):
        if "unable to open database file" in text:
            return ConfigError(
                f"SQLite database {shown} cannot be opened: its folder is missing or "
                "not writable; create the folder or fix DATABASE_URL"
            )
        return None
    where = _host_port(url, 5432) if urlsplit(url).hostname else "its local socket"
    name = _database_name(url)
    user = urlsplit(url).username or "the current user"
    code = getattr(exc.__cause__ or exc, "pgcode", None) or ""
    if code == "3D000" or re.search(r'database ".*" does not exist', text):
        return ConfigError(
            f"PostgreSQL at {shown}: database {name!r} does not exist; "
            "create it (createdb, or CREATE DATABASE) or fix DATABASE_URL"
        )
    if code == "28P01" or "password authentication failed" in text:
        return ConfigError(
            f"PostgreSQL at {shown} refused user {user!r}: wrong password; "
            "fix the password in DATABASE_URL"
        )
    if "no password supplied" in text:
        return ConfigError(
            f"PostgreSQL at {shown} asks user {user!r} for a password and none was given; "
            "add it to DATABASE_URL (postgresql://USER:PASSWORD@HOST/DB)"
        )
    if re.search(r'role ".*" does not exist', text):
        return ConfigError(
            f"PostgreSQL at {shown}: user {user!r} does not exist; fix the user in DATABASE_URL"
        )
    if code.startswith("28") or any(
        sign in text for sign in ("pg_hba.conf", "Peer authentication", "Ident authentication")
    ):
        return ConfigError(
            f"PostgreSQL at {shown} does not let user {user!r} in ({_first_line(text)}); "
            "fix pg_hba.conf on the server or the user in DATABASE_URL"
        )
    if code == "57P03" or "starting up" in text or "shutting down" in text:
        return ServiceUnavailable(
            f"PostgreSQL at {shown} is starting up or shutting down; try again in a moment"
        )
    if "could not translate host name" in text:
        return ServiceUnavailable(
            f"PostgreSQL at {shown} is unreachable (unknown host name); "
            "check the host in DATABASE_URL and this host's DNS"
        )
    # 57P01/57P02: an administrator or a crash ended the session; class 08: connection.
    cut = code in ("57P01", "57P02") or code.startswith("08")
    if (
        cut
        or isinstance(exc, peewee.InterfaceError)
        or any(
            sign in text
            for sign in (
                "connection to server",
                "could not connect",
                "timeout expired",
                "server closed the connection",
                "connection already closed",
                "terminating connection due to administrator command",
                "SSL SYSCALL error",
                "SSL connection has been closed unexpectedly",
            )
        )
    ):
        return ServiceUnavailable(
            f"PostgreSQL at {shown} is unreachable ({_reason(text)}); "
            f"is PostgreSQL running on {where}?"
        )
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


def _reason(text: str) -> str:
    """The cause libpq gives after 'failed:', in lower case, e.g. 'connection refused'."""
    reason = _first_line(text).rsplit("failed:", 1)[-1].strip()
    reason = re.sub(r"^FATAL:\s*", "", reason)
    return reason[:1].lower() + reason[1:] if reason else "no connection"


def redis_error(exc: BaseException, url: str, embedded: bool = False) -> WhisperopsError | None:
    """The operator error for a failure talking to Redis at ``url``."""
    from redis import exceptions

    shown = mask_secret_url(url)
    text = str(exc)
    if isinstance(exc, exceptions.AuthenticationError) or (
        isinstance(exc, exceptions.ResponseError)
        and any(sign in text for sign in ("NOAUTH", "WRONGPASS", "invalid password"))
    ):
        return ConfigError(
            f"Redis at {shown} needs a password, or refused this one; "
            "put it in REDIS_URL (redis://:PASSWORD@host:port/db)"
        )
    if isinstance(exc, exceptions.ResponseError) and "DB index is out of range" in text:
        index = urlsplit(url).path.lstrip("/") or "0"
        return ConfigError(
            f"Redis at {shown}: database {index} does not exist on this server "
            "(there are 16 by default, 0-15); fix the DB index in REDIS_URL"
        )
    if isinstance(exc, exceptions.ConnectionError | exceptions.TimeoutError):
        reason = "connection refused" if "refused" in text.lower() else "no connection"
        if embedded:
            return ServiceUnavailable(
                f"the embedded Valkey at {shown} is unreachable ({reason}); "
                "start the stack (honcho start) or `whisperops valkey start`"
            )
        return ServiceUnavailable(
            f"Redis at {shown} is unreachable ({reason}); is Redis running on "
            f"{_host_port(url, 6379)}? (unset REDIS_URL to use the embedded Valkey)"
        )
    return None


def redis_error_for(exc: BaseException, settings: Settings) -> WhisperopsError | None:
    """:func:`redis_error` for the Redis these settings use."""
    from whisperops.redis_server import known_redis_url

    url = known_redis_url(settings) or "redis://127.0.0.1"
    return redis_error(exc, url, embedded=not settings.redis_url)


def port_error(exc: BaseException, host: str, port: int, setting: str) -> WhisperopsError | None:
    """The operator error for a server that could not bind ``host:port``."""
    if isinstance(exc, socket.gaierror):
        return ConfigError(f"cannot listen on {host}: unknown host name; fix --host")
    if not isinstance(exc, OSError):
        return None
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"port {port} on {host} is in use; choose another with --port or {setting}"
        )
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
        return ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); fix --host/--port")
    return None


def explain(exc: BaseException, settings: Settings | None) -> WhisperopsError | None:
    """``exc`` as an operator error, when it is a failure of the surroundings."""
    if isinstance(exc, WhisperopsError):
        return exc
    if settings is None:
        return None
    database_url = settings.database_url.get_secret_value()
    return database_error(exc, database_url) or redis_error_for(exc, settings)


def until_available(
    attempt: Callable[[], T],
    describe: Callable[[BaseException], WhisperopsError | None],
    wait_sec: float,
    service: str,
) -> T:
    """``attempt()``, retried while it fails for a service that is unavailable, for up
    to ``wait_sec`` (processes started beside their services wait for them; one-shot
    commands pass 0). Logs one line when it starts waiting and one when the service is
    back; a setting to fix, or the end of the wait, raises the operator error."""
    deadline = time.monotonic() + wait_sec
    waiting = False
    while True:
        try:
            result = attempt()
        except Exception as exc:
            found = describe(exc)
            if found is None:
                raise
            if not isinstance(found, ServiceUnavailable) or time.monotonic() >= deadline:
                raise found from exc
            if not waiting:
                log.warning("%s; waiting up to %.0fs for it", found, wait_sec)
                waiting = True
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            continue
        if waiting:
            log.info("%s is reachable again", service)
        return result


class Outage:
    """Logs a service going away once and coming back once, however often a loop
    retries in between (a retry every second would otherwise flood the log)."""

    def __init__(self, service: str, logger: logging.Logger) -> None:
        self.service = service
        self.log = logger
        self.down_since: float | None = None
        self._lock = threading.Lock()  # a worker's heartbeat thread and its loop share one

    def down(self, exc: BaseException, what: str = "") -> None:
        with self._lock:
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
            self.log.warning(
                "%s unreachable%s: %s; retrying until it is back",
                self.service,
                f" ({what})" if what else "",
                _first_line(str(exc)),  # libpq adds a hint line: one line per event
            )

    def up(self) -> None:
        with self._lock:
            if self.down_since is None:
                return
            since, self.down_since = self.down_since, None
        self.log.warning("%s reachable again after %.0fs", self.service, time.monotonic() - since)
