"""Commands that run the stack's processes: migrate, worker, calibrate, console,
exporter, watch, scheduler (each Procfile line runs one of these)."""

from __future__ import annotations

import click

from whisperops.cli.context import STARTUP_MIGRATION_WAIT_SEC, Context, pass_context
from whisperops.health.preflight import model_check, require, watcher_checks, worker_checks
from whisperops.health.service_errors import port_error
from whisperops.migrations import migrate as apply_migrations
from whisperops.text import literal


@click.command()
@click.option(
    "--to", "target", type=click.IntRange(min=1), help="Stop after this migration number."
)
@pass_context
def migrate(context: Context, target: int | None) -> None:
    """Apply pending database migrations (idempotent) and print what was done."""
    database = context.database(require_current=False)
    click.echo(f"database: {context.settings.database_url}")  # masked
    apply_migrations(database, target=target, log=click.echo)


@click.command()
@click.option("--burst", is_flag=True, help="Process what is queued, then exit.")
@click.option("--name", help="Worker name shown by `rq info` (one process only; default: RQ's).")
@click.option(
    "--maintenance", is_flag=True, help="Serve the sweep's queue (whisperops-maintenance) instead."
)
@click.option(
    "--processes",
    metavar="N|auto",
    help="Transcribe worker processes (default: worker_processes, 'auto' = calibrated).",
)
@pass_context
def worker(
    context: Context, burst: bool, name: str | None, maintenance: bool, processes: str | None
) -> None:
    """Run transcribe workers on queue whisperops-transcribe (or the maintenance worker).

    The layout (processes, threads per model replica, batch size) left at 'auto' comes
    from a calibration on the model, cached per host; the worker logs what it chose
    and why. Each process loads the Whisper model once and reuses it for every job.
    """
    settings = context.settings
    if processes is not None:
        settings = context.override("worker_processes", processes)
    if name and not maintenance:  # a name is one worker's: one process
        if settings.worker_processes not in (1, "auto"):
            raise click.UsageError("--name needs a single process (--processes 1)")
        settings = context.override("worker_processes", "1")
    if not maintenance:
        require(worker_checks(settings))
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    context.redis(wait=True)
    from whisperops.worker.rq_workers import run_worker

    run_worker(settings, burst=burst, name=name, maintenance=maintenance)


@click.command()
@pass_context
def calibrate(context: Context) -> None:
    """Measure the worker layout for this host and model again, and show the choice.

    Decodes a bundled clip of real speech in each candidate layout (threads per model
    replica, batched or sequential, batch size) and caches the result in the data
    folder, where workers with settings at 'auto' find it.
    """
    from whisperops.worker.layout import resolve_layout

    require([model_check(context.settings)])
    layout = resolve_layout(context.settings, recalibrate=True)
    click.echo(layout.reason.replace("; ", "\n"))
    click.echo(f"chosen: {layout.describe()}")


@click.command()
@click.option(
    "--refresh",
    type=click.IntRange(min=1),
    help="Seconds between refreshes (default: console_refresh_sec, 2).",
)
@pass_context
def console(context: Context, refresh: int | None) -> None:
    """Live view of every recording, the backlog and its ETA; requeue (r) and fail (f)
    with one key, or every marked row at once (space marks, a marks all matching).

    Also: workers (w), where the time goes and what fails (t), pause intake (p).
    Works over SSH in 80x24 with the keyboard only; `q` quits, footer shows the keys.
    """
    context.database(long_running=True)
    from whisperops.console.app import build_app

    build_app(context.settings, refresh_sec=refresh or context.settings.console_refresh_sec).run()


@click.command()
@click.option("--host", help="Address to bind (default: exporter_host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: exporter_port, 9464).")
@pass_context
def exporter(context: Context, host: str | None, port: int | None) -> None:
    """Serve Prometheus metrics at http://HOST:PORT/metrics, read from the DB and RQ."""
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    from whisperops.monitoring.exporter import serve

    settings = context.settings
    host, port = host or settings.exporter_host, port or settings.exporter_port
    try:
        serve(settings, host, port)
    except OSError as exc:
        raise port_error(exc, host, port, "WHISPEROPS_EXPORTER_PORT") or exc from exc


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Look twice (watcher_poll_sec apart), take what settled, then exit.",
)
@pass_context
def watch(context: Context, once: bool) -> None:
    """Ingest audio files dropped into the inbox (inbox_dir) once their size is stable."""
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    # After the database is ready: the inbox appearing means the watcher is watching.
    require(watcher_checks(context.settings))
    from whisperops.watcher import InboxWatcher

    watcher = InboxWatcher(context.settings)
    if once:
        import time

        watcher.poll_once()
        time.sleep(context.settings.watcher_poll_sec)
        for result in watcher.poll_once():
            click.echo(literal(result.describe()))
    else:
        watcher.run()


@click.command()
@click.option("--burst", is_flag=True, help="Enqueue what is due once, then exit.")
@pass_context
def scheduler(context: Context, burst: bool) -> None:
    """Run rq-scheduler: the sweep every sweep_interval_sec on whisperops-maintenance."""
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    from whisperops.scheduler import run_scheduler

    run_scheduler(context.settings, context.redis(wait=True), burst=burst)
