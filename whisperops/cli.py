"""The ``whisperops`` command line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from whisperops import __version__, ops
from whisperops.config import (
    OPTION_NAMES,
    Settings,
    env_name,
    load_settings,
    without_secrets,
)
from whisperops.db import bind_database
from whisperops.errors import ConfigError, WhisperopsError
from whisperops.migrations import migrate as apply_migrations
from whisperops.migrations import pending
from whisperops.models import Status
from whisperops.preflight import model_check, require, watcher_checks, worker_checks
from whisperops.service_errors import (
    database_error,
    explain,
    port_error,
    redis_error_for,
    until_available,
)
from whisperops.text import age, dash, literal, render_detail, truncate


class Context:
    """Settings and the database, loaded on first use so ``--help`` needs neither."""

    current: Context | None = None
    """The running command's context: main() explains its errors with the settings."""

    def __init__(self, config_file: str | None, debug: bool = False) -> None:
        self.config_file = config_file
        self._settings: Settings | None = None
        self.debug = debug
        Context.current = self

    @property
    def loaded_settings(self) -> Settings | None:
        return self._settings

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(config_file=self.config_file)
            logging.basicConfig(
                level=self._settings.log_level,
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                stream=sys.stderr,
            )
        return self._settings

    def override(self, name: str, raw: str) -> Settings:
        """The settings with one value from the command line, parsed as its variable is."""
        try:
            return self.settings.replace(**{name: raw})
        except ConfigError as exc:
            raise click.BadParameter(str(exc)) from None

    def database(
        self, require_current: bool = True, wait_sec: float = 0, long_running: bool = False
    ):
        """Bind the database; unless told otherwise, insist its schema is current.

        Long-running processes pass ``wait_sec`` so that, started together with
        `whisperops migrate` (as by honcho), they wait for it instead of failing; they
        (and the console, ``long_running``) also wait service_wait_sec for a database
        that does not answer yet. One-shot commands fail at once, in one line.
        """
        import time

        url = self.settings.database_url.get_secret_value()
        database = bind_database(url)
        # A long-running process waits service_wait_sec for the database to answer
        # (in all: the database answering between migration checks does not restart it).
        service_wait = self.settings.service_wait_sec if long_running or wait_sec else 0
        service_deadline = time.monotonic() + service_wait
        deadline = time.monotonic() + wait_sec
        while require_current:
            missing = until_available(
                lambda: pending(database),
                lambda exc: database_error(exc, url),
                max(0.0, service_deadline - time.monotonic()),
                "the database",
            )
            if not missing:
                break
            if time.monotonic() >= deadline:
                raise WhisperopsError(
                    f"the database needs {len(missing)} migration(s) "
                    f"(next: {missing[0].name}); run `whisperops migrate`"
                )
            time.sleep(0.5)
        return database

    def redis(self, wait: bool = False):
        """A Redis connection that answers; long-running processes wait for it."""
        from whisperops.redis_server import connect_redis

        settings = self.settings

        def ping():
            connection = connect_redis(settings)
            connection.ping()
            return connection

        return until_available(
            ping,
            lambda exc: redis_error_for(exc, settings),
            settings.service_wait_sec if wait else 0,
            "Redis",
        )


# How long a worker or scheduler waits for `whisperops migrate` started beside it.
STARTUP_MIGRATION_WAIT_SEC = 60


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="WHISPEROPS_CONFIG",
    help="TOML config file (env: WHISPEROPS_CONFIG). Environment variables override it.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="On an error, also show the traceback (for a bug report); "
    "WHISPEROPS_LOG_LEVEL=debug does the same.",
)
@click.version_option(__version__, prog_name="whisperops")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """whisperops: transcribe folders of audio recordings, and see every step.

    Settings come from the environment (DATABASE_URL, REDIS_URL, WHISPEROPS_*)
    and an optional TOML file; `whisperops config` shows them.
    """
    ctx.obj = Context(config_file, debug=debug)


@cli.command()
@click.option(
    "--to", "target", type=click.IntRange(min=1), help="Stop after this migration number."
)
@pass_context
def migrate(context: Context, target: int | None) -> None:
    """Apply pending database migrations (idempotent) and print what was done."""
    database = context.database(require_current=False)
    click.echo(f"database: {context.settings.database_url}")  # masked
    apply_migrations(database, target=target, log=click.echo)


@cli.command()
# readable=False: click's own check would abort the whole command on one unreadable
# file; ops reports it per file and the others are still added.
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@pass_context
def add(context: Context, paths: tuple[Path, ...]) -> None:
    """Ingest audio files, or every audio file below folders, as queued recordings.

    Files are de-duplicated by SHA-256; each file is reported as added or
    skipped with the reason. Exits 1 if a path is missing or unreadable.
    """
    context.database()
    results = ops.add_paths(paths, context.settings)
    for result in results:
        click.echo(literal(result.describe()), err=result.outcome == "error")
    counts = {
        outcome: sum(r.outcome == outcome for r in results)
        for outcome in ("added", "skipped", "error")
    }
    click.echo(f"{counts['added']} added, {counts['skipped']} skipped, {counts['error']} errors")
    if counts["error"]:
        sys.exit(1)


STATUS_CHOICE = click.Choice([status.value for status in Status])


@cli.command(name="list")
@click.option("--status", type=STATUS_CHOICE, help="Only recordings with this status.")
@click.option("--search", help="Only file names containing this text (case-insensitive).")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="At most this many rows; 0 for all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print RecordingListItem objects as JSON.")
@pass_context
def list_command(
    context: Context, status: str | None, search: str | None, limit: int, as_json: bool
) -> None:
    """List recordings, processing ones first, then by last update."""
    context.database()
    items, total = ops.list_recordings(Status(status) if status else None, search, limit or None)
    if as_json:
        click.echo(json.dumps([item.model_dump(mode="json") for item in items], indent=2))
        return
    header = (
        f"{'ID':>6}  {'STATUS':<10}  {'STEP':<16}  {'SEGS':>5}  {'RETRY':>5}  {'UPDATED':>8}  FILE"
    )
    click.echo(header)
    for item in items:
        click.echo(
            f"{item.id:>6}  {item.status.value:<10}  {item.processing_step or '-':<16}  "
            f"{dash(item.processing_segments_count):>5}  {item.retry_count:>5}  "
            f"{age(item.updated_at):>8}  {truncate(item.file_name, 60)}"
            + (f"  ! {truncate(item.error_message, 70)}" if item.error_message else "")
        )
    if len(items) < total:
        click.echo(f"({len(items)} of {total} shown; use --limit 0 for all)")


@cli.command()
@click.argument("recording_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the RecordingDetail object as JSON.")
@pass_context
def show(context: Context, recording_id: int, as_json: bool) -> None:
    """Show one recording: metadata, step history, error, transcript, output files."""
    context.database()
    detail = ops.show_recording(recording_id, context.settings)
    if as_json:
        click.echo(detail.model_dump_json(indent=2))
    else:
        click.echo(render_detail(detail))


@cli.command()
@click.argument("recording_id", type=int)
@pass_context
def requeue(context: Context, recording_id: int) -> None:
    """Put a recording back in the queue and start it at once (fences off any job
    still running for it)."""
    context.database()
    recording = ops.requeue(recording_id)
    click.echo(
        f"requeued #{recording.id} {literal(recording.file_name)} (attempt {recording.attempt}): "
        + ops.start([recording], context.settings)
    )


@cli.command()
@click.argument("recording_id", type=int)
@click.option("--reason", required=True, help="Why; stored in the recording's error_message.")
@pass_context
def fail(context: Context, recording_id: int, reason: str) -> None:
    """Mark a queued or processing recording as failed."""
    context.database()
    recording = ops.fail(recording_id, reason)
    click.echo(
        f"failed #{recording.id} {literal(recording.file_name)}: {literal(recording.error_message)}"
    )


@cli.command()
@click.argument("recording_ids", type=int, nargs=-1)
@click.option(
    "--pending",
    is_flag=True,
    help="Every done recording flagged pending diarization (too long, failed, or no model).",
)
@pass_context
def rediarize(context: Context, recording_ids: tuple[int, ...], pending: bool) -> None:
    """Redo diarization, analytics and store_results, keeping the transcript.

    For example after a pyannote model was configured. The recordings are queued
    and enqueued at once; a worker starts them at the diarization step with the
    current settings.
    """
    if not recording_ids and not pending:
        raise click.UsageError("give recording ids, or --pending")
    context.database()
    queued = []
    for recording_id in recording_ids:
        recording = ops.rediarize(recording_id)
        click.echo(f"queued #{recording.id} {literal(recording.file_name)} for re-diarization")
        queued.append(recording)
    if pending:
        flagged = ops.rediarize_pending()
        click.echo(f"queued {len(flagged)} recordings pending diarization")
        queued += flagged
    if queued:
        click.echo(ops.start(queued, context.settings))


@cli.command()
@pass_context
def enqueue(context: Context) -> None:
    """Put queued recordings without a live job on the transcribe queue (oldest first,
    at most max_in_flight in flight)."""
    context.database()
    from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue

    report = enqueue_queued(transcribe_queue(context.redis()), context.settings)
    click.echo(
        f"enqueued {len(report.enqueued)}"
        + (f" (#{', #'.join(map(str, report.enqueued))})" if report.enqueued else "")
        + f"; {report.in_flight} were in flight (max_in_flight "
        f"{context.settings.max_in_flight})"
    )


@cli.command()
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
    from whisperops.worker import run_worker

    run_worker(settings, burst=burst, name=name, maintenance=maintenance)


@cli.command()
@pass_context
def calibrate(context: Context) -> None:
    """Measure the worker layout for this host and model again, and show the choice.

    Decodes a bundled clip of real speech in each candidate layout (threads per model
    replica, batched or sequential, batch size) and caches the result in the data
    folder, where workers with settings at 'auto' find it.
    """
    from whisperops.layout import resolve_layout

    require([model_check(context.settings)])
    layout = resolve_layout(context.settings, recalibrate=True)
    click.echo(layout.reason.replace("; ", "\n"))
    click.echo(f"chosen: {layout.describe()}")


@cli.command()
@click.option(
    "--refresh",
    type=click.IntRange(min=1),
    help="Seconds between refreshes (default: console_refresh_sec, 2).",
)
@pass_context
def console(context: Context, refresh: int | None) -> None:
    """Live view of every recording; requeue (r) and fail (f) with one key.

    Works over SSH in 80x24 with the keyboard only; `q` quits, footer shows the keys.
    """
    context.database(long_running=True)
    from whisperops.console.app import build_app

    build_app(context.settings, refresh_sec=refresh or context.settings.console_refresh_sec).run()


@cli.command()
@click.option("--host", help="Address to bind (default: exporter_host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: exporter_port, 9464).")
@pass_context
def exporter(context: Context, host: str | None, port: int | None) -> None:
    """Serve Prometheus metrics at http://HOST:PORT/metrics, read from the DB and RQ."""
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    from whisperops.exporter import serve

    settings = context.settings
    host, port = host or settings.exporter_host, port or settings.exporter_port
    try:
        serve(settings, host, port)
    except OSError as exc:
        raise port_error(exc, host, port, "WHISPEROPS_EXPORTER_PORT") or exc from exc


@cli.command()
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


@cli.command()
@pass_context
def sweep(context: Context) -> None:
    """Run one sweep now: recover stuck recordings, then enqueue queued ones."""
    context.database()
    from whisperops.sweep import enqueue_pending_recordings

    report = enqueue_pending_recordings(context.settings, context.redis())
    click.echo(report.describe())
    for recording_id in report.failed:
        recording = ops.get_recording(recording_id)
        click.echo(
            f"failed #{recording_id} {literal(recording.file_name)}: "
            f"{literal(recording.error_message)}"
        )


@cli.command()
@click.option("--burst", is_flag=True, help="Enqueue what is due once, then exit.")
@pass_context
def scheduler(context: Context, burst: bool) -> None:
    """Run rq-scheduler: the sweep every sweep_interval_sec on whisperops-maintenance."""
    context.database(wait_sec=STARTUP_MIGRATION_WAIT_SEC)
    from whisperops.scheduler import run_scheduler

    run_scheduler(context.settings, context.redis(wait=True), burst=burst)


def settings_origin(context: Context) -> str:
    source = f"config file {context.config_file} and " if context.config_file else ""
    return f"from {source}the environment; data dir {context.settings.data_dir}"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_context
def doctor(context: Context, as_json: bool) -> None:
    """Check this host's environment: database (migrated, clock), Redis, workers,
    model, pyannote, folders, exporter port; the fix for each problem.

    Exits 0 when all is well, 1 when something needs fixing.
    """
    from whisperops.doctor import render, run_checks
    from whisperops.preflight import Check

    try:
        settings = context.settings
    except ConfigError as exc:  # nothing else can be checked without the settings
        checks = [Check("settings", False, str(exc), "fix that setting (see `whisperops config`)")]
    else:
        checks = [Check("settings", True, settings_origin(context)), *run_checks(settings)]
    click.echo(render(checks, as_json))
    if not all(check.ok for check in checks):
        sys.exit(1)


@cli.command()
@click.argument("name", required=False)
@pass_context
def config(context: Context, name: str | None) -> None:
    """Show the effective settings (secrets masked) and the variables that set them.

    With NAME, print only that setting's value (e.g. `whisperops config data_dir`).
    """
    settings = context.settings
    shown = {}
    for key, value in settings.public_items():
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        shown[key] = "" if value is None else str(value)
    if name is not None:
        if name not in OPTION_NAMES:
            raise WhisperopsError(
                f"unknown setting {name!r}; known settings: {', '.join(OPTION_NAMES)}"
            )
        click.echo(shown[name])
        return
    click.echo(f"# config file: {settings.config_file or 'none'}")
    for key in OPTION_NAMES:
        click.echo(f"{key} = {shown[key]}    # {env_name(key)}")


@cli.group()
def valkey() -> None:
    """The embedded Valkey used when REDIS_URL is unset."""


@valkey.command(name="start")
@pass_context
def valkey_start(context: Context) -> None:
    """Start the embedded Valkey for this data dir (or reuse the running one)."""
    from whisperops.redis_server import ensure_embedded_valkey

    server = ensure_embedded_valkey(context.settings.data_dir)
    click.echo(f"embedded Valkey running: pid {server.pid}, {server.url}")


@valkey.command(name="run")
@pass_context
def valkey_run(context: Context) -> None:
    """Run the embedded Valkey in the foreground (the Procfile's `valkey` process).

    With REDIS_URL set, or when this data dir's Valkey is already running, it
    stays up without starting a server so the process manager keeps running.
    """
    import time

    from whisperops.redis_server import read_embedded, run_embedded_valkey_foreground

    settings = context.settings
    if settings.redis_url:
        click.echo(
            f"REDIS_URL is set ({settings.redis_url}); no embedded Valkey needed"  # masked
        )
        while True:
            time.sleep(3600)
    running = run_embedded_valkey_foreground(settings.data_dir)
    if running is None:
        return  # served until asked to stop
    click.echo(f"embedded Valkey already running: pid {running.pid}, {running.url}; waiting on it")
    while read_embedded(settings.data_dir) is not None:
        time.sleep(1)
    raise WhisperopsError(f"embedded Valkey pid {running.pid} stopped")


@valkey.command(name="stop")
@pass_context
def valkey_stop(context: Context) -> None:
    """Stop the embedded Valkey for this data dir."""
    from whisperops.redis_server import stop_embedded_valkey

    server = stop_embedded_valkey(context.settings.data_dir)
    click.echo(
        f"stopped embedded Valkey pid {server.pid}" if server else "no embedded Valkey was running"
    )


@valkey.command(name="url")
@pass_context
def valkey_url(context: Context) -> None:
    """Print the Redis URL the stack uses (e.g. for `rq info --url ...`)."""
    from whisperops.redis_server import redis_url

    click.echo(redis_url(context.settings))


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: operator errors become one line, not a traceback."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="whisperops",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        context = Context.current
        settings = context.loaded_settings if context else None
        found = explain(exc, settings)
        if found is None:
            raise  # a bug: the traceback is what a report needs
        if (context and context.debug) or (settings and settings.log_level == "DEBUG"):
            import traceback

            shown = "".join(traceback.format_exception(exc))
            click.echo(without_secrets(shown, settings) if settings else shown, err=True)
        click.echo(f"whisperops: error: {found}", err=True)
        sys.exit(found.exit_code)
