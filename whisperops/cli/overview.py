"""`whisperops status`: counts per status, the backlog and its ETA, workers, queues, intake."""

from __future__ import annotations

import click

from whisperops.cli.context import Context, pass_context
from whisperops.clock import db_now
from whisperops.status_report import StatusReport


def _redis_connection(settings):
    """Fails fast, and starts no embedded Valkey: `status` only reads."""
    from whisperops.ops.start_now import operator_redis

    connection = operator_redis(settings)
    if connection is None:
        raise ConnectionError("no REDIS_URL and no embedded Valkey running")
    connection.ping()
    return connection


def _explain(exc: BaseException, settings) -> str:
    from whisperops.health.service_errors import redis_error_for

    return str(redis_error_for(exc, settings) or exc).strip().splitlines()[0]


def render_status(report: StatusReport) -> str:
    """The report as the few lines `whisperops status` prints."""
    counts = " · ".join(f"{status.value} {count:,}" for status, count in report.counts.items())
    if report.workers_online is None:
        workers = f"unknown (Redis: {report.redis_error})"
        queues = "unknown"
    else:
        workers = f"{report.workers_online} transcribe online"
        queues = " ".join(
            f"{name.removeprefix('whisperops-')} {depth}"
            for name, depth in (report.queue_depths or {}).items()
        )
    return "\n".join(
        [
            f"recordings  {counts}",
            f"backlog     {report.backlog.line}",
            f"workers     {workers}",
            f"queues      {queues}",
            f"intake      {report.intake.line}",
        ]
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the StatusReport object as JSON.")
@pass_context
def status(context: Context, as_json: bool) -> None:
    """The farm at a glance: counts per status, the backlog and when it will be done,
    workers online, queue depths, intake. Answers with the database part when Redis
    is down."""
    context.database()
    from whisperops.status_report import build_status_report

    settings = context.settings
    report = build_status_report(
        settings,
        lambda: _redis_connection(settings),
        db_now(),
        lambda exc: _explain(exc, settings),
    )
    click.echo(report.model_dump_json(indent=2) if as_json else render_status(report))
