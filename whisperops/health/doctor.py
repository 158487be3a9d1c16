"""`whisperops doctor`: the whole environment checked in one go, with the fix for each
problem. Operators run it first on every new host of a scale-out.

Each check is independent: a database that is down does not hide what is wrong
with Redis or the model. Services are tried once, without waiting, and nothing is
changed on the host (missing folders are not created, models not downloaded).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from dataclasses import asdict

from whisperops.config import Settings, mask_secret_url
from whisperops.health.preflight import Check, folder_check, model_check, pyannote_check

CLOCK_SKEW_LIMIT_SEC = 2.0
"""Beyond this, the sweep's "stuck for N seconds" and the ETAs are off by as much."""


def _failure(name: str, exc: BaseException, describe) -> Check:
    found = describe(exc)
    if found is None:
        return Check(name, False, f"{type(exc).__name__}: {exc}", "see `whisperops --debug ...`")
    detail, _, fix = str(found).partition("; ")
    return Check(name, False, detail, fix)


def database_checks(settings: Settings) -> list[Check]:
    """Reachable, migrated, and the clock difference between this host and its server."""
    from whisperops.db import bind_database, is_postgres
    from whisperops.health.service_errors import database_error
    from whisperops.migrations import pending

    url = settings.database_url.get_secret_value()
    shown = mask_secret_url(url)
    try:
        database = bind_database(url)
        missing = pending(database)
        if is_postgres(database):
            version = database.execute_sql("SHOW server_version").fetchone()[0]
            what = f"PostgreSQL {version.split()[0]} at {shown}"
        else:
            what = f"SQLite at {shown}"
    except Exception as exc:
        return [_failure("database", exc, lambda e: database_error(e, url))]
    if missing:
        checks = [
            Check(
                "database",
                False,
                f"{what}: {len(missing)} migration(s) pending (next: {missing[0].name})",
                "run `whisperops migrate`",
            )
        ]
    else:
        checks = [Check("database", True, f"{what}, schema current")]
    try:
        checks.append(clock_check(database))
    except Exception as exc:
        checks.append(_failure("clock", exc, lambda e: database_error(e, url)))
    return checks


def clock_check(database) -> Check:
    from whisperops.db import is_postgres

    if not is_postgres(database):
        return Check("clock", True, "SQLite: the database is on this host")
    before = time.time()
    server = database.execute_sql("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0]
    after = time.time()
    skew = float(server) - (before + after) / 2
    if abs(skew) > CLOCK_SKEW_LIMIT_SEC + (after - before) / 2:
        return Check(
            "clock",
            False,
            f"this host's clock is {abs(skew):.1f} s {'behind' if skew > 0 else 'ahead of'} "
            "the database server's",
            "synchronise the clocks (NTP: `timedatectl set-ntp true` or chrony)",
        )
    return Check("clock", True, f"within {abs(skew):.2f} s of the database server's")


def redis_checks(settings: Settings) -> list[Check]:
    """Reachable with its version, and the workers online per queue."""
    from rq import Queue, Worker

    from whisperops.health.service_errors import redis_error_for
    from whisperops.jobs.names import MAINTENANCE_QUEUE, TRANSCRIBE_QUEUE
    from whisperops.redis_server import known_redis_url

    url = known_redis_url(settings)
    if url is None:
        return [
            Check(
                "redis",
                False,
                "REDIS_URL is unset and the embedded Valkey is not running",
                "start the stack (honcho start) or `whisperops valkey start`, or set REDIS_URL",
            )
        ]
    from redis import Redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        # Tried once: doctor reports, it does not wait.
        connection = Redis.from_url(
            url, socket_connect_timeout=3, socket_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        info = connection.info("server")
        counts = {
            name: len(Worker.all(queue=Queue(name, connection=connection)))
            for name in (TRANSCRIBE_QUEUE, MAINTENANCE_QUEUE)
        }
    except Exception as exc:
        return [_failure("redis", exc, lambda e: redis_error_for(e, settings))]
    server = "Valkey" if "valkey_version" in info else "Redis"
    version = info.get("valkey_version") or info.get("redis_version")
    checks = [Check("redis", True, f"{server} {version} at {mask_secret_url(url)}")]
    online = ", ".join(f"{name}: {count}" for name, count in counts.items())
    if counts[TRANSCRIBE_QUEUE] == 0 or counts[MAINTENANCE_QUEUE] == 0:
        checks.append(
            Check(
                "workers",
                False,
                f"workers online per queue: {online}",
                "start them: `whisperops worker` and `whisperops worker --maintenance` "
                "(or honcho start)",
            )
        )
    else:
        checks.append(Check("workers", True, f"online per queue: {online}"))
    return checks


def model_load_check(settings: Settings) -> Check:
    """The model's location, then a real load on the configured device."""
    found = model_check(settings)
    if not found.ok or "not downloaded yet" in found.detail:
        return found  # loading it would start a download of up to a few GB
    from whisperops.pipeline.transcriber import model_location
    from whisperops.worker.layout import resolved_compute_type, resolved_device

    try:
        device = resolved_device(settings)
        compute_type = resolved_compute_type(settings, device)
        from faster_whisper import WhisperModel

        started = time.monotonic()
        WhisperModel(
            model_location(settings), device=device, compute_type=compute_type, cpu_threads=1
        )
    except Exception as exc:
        return Check("model", False, f"{found.detail} does not load: {exc}", "check the model")
    took = time.monotonic() - started
    return Check("model", True, f"{found.detail}; loads on {device} {compute_type} in {took:.1f} s")


def exporter_check(settings: Settings) -> Check:
    """The exporter's port: free, or serving whisperops' metrics already."""
    host, port = settings.exporter_host, settings.exporter_port
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return Check("exporter", True, f"port {port} on {host} is free")
        except OSError:
            pass
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=3) as response:
            serving = b"whisperops_" in response.read()
    except OSError:
        serving = False
    if serving:
        return Check(
            "exporter", True, f"serving whisperops metrics at http://{host}:{port}/metrics"
        )
    return Check(
        "exporter",
        False,
        f"port {port} on {host} is in use by another program",
        "choose another with WHISPEROPS_EXPORTER_PORT (or --port)",
    )


def run_checks(settings: Settings) -> list[Check]:
    return [
        *database_checks(settings),
        *redis_checks(settings),
        model_load_check(settings),
        pyannote_check(settings),
        folder_check("output", settings.output_dir, "WHISPEROPS_OUTPUT_DIR", create=False),
        folder_check("inbox", settings.inbox_dir, "WHISPEROPS_INBOX_DIR", create=False),
        exporter_check(settings),
    ]


def render(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}, indent=2
        )
    width = max(len(c.name) for c in checks)
    lines = []
    for check in checks:
        lines.append(f"{'✓' if check.ok else '✗'} {check.name:<{width}}  {check.detail}")
        if not check.ok and check.fix:
            lines.append(f"  {'':<{width}}  fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"{len(checks) - failed} ok, {failed} to fix" if failed else "all ok")
    return "\n".join(lines)
