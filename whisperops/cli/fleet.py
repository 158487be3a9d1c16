"""Commands on the worker fleet: workers (who is working on what)."""

from __future__ import annotations

import json

import click

from whisperops.cli.context import Context, pass_context
from whisperops.jobs.workers import estimate, recording_label
from whisperops.schemas import WorkerInfo
from whisperops.text import dash, format_duration, literal, truncate


def render_table(workers: list[WorkerInfo]) -> list[str]:
    """The lines of `whisperops workers`: one per worker, flags last."""
    name_width = max([4, *(len(literal(w.name)) for w in workers)])
    host_width = min(24, max([4, *(len(literal(w.hostname)) for w in workers)]))
    lines = [
        f"{'NAME':<{name_width}}  {'HOST':<{host_width}}  {'PID':>7}  {'STATE':<9}  "
        f"{'RECORDING':<30}  {'STEP':<16}  {'EST':>4}  {'HEARTBEAT':>9}  {'DONE':>5}  "
        f"{'FAILED':>6}  {'UP':>6}  FLAGS"
    ]
    for w in workers:
        host = truncate(w.hostname or "-", host_width)
        lines.append(
            f"{literal(w.name):<{name_width}}  {host:<{host_width}}  "
            f"{dash(w.pid):>7}  {truncate(w.state, 9):<9}  {recording_label(w, 30):<30}  "
            f"{truncate(w.processing_step or '-', 16):<16}  {estimate(w):>4}  "
            f"{format_duration(w.heartbeat_age_sec):>9}  {w.successful_jobs:>5}  "
            f"{w.failed_jobs:>6}  {format_duration(w.uptime_sec):>6}  {', '.join(w.flags)}".rstrip()
        )
    return lines


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print WorkerInfo objects as JSON.")
@pass_context
def workers(context: Context, as_json: bool) -> None:
    """List whisperops' workers from RQ's registry: what each is on, heartbeat, jobs.

    Only workers of whisperops' queues are shown (a shared Redis may hold other
    applications'). FLAGS says "stale heartbeat" (the worker missed its heartbeats:
    dead or hung) or "attempt moved on" (its recording was requeued, failed or
    finished meanwhile; what the job still writes is fenced off).
    """
    from whisperops.clock import utcnow
    from whisperops.jobs.workers import read_workers

    connection = context.redis()
    context.database()
    found = read_workers(connection, utcnow())
    if as_json:
        click.echo(json.dumps([info.model_dump(mode="json") for info in found], indent=2))
        return
    if not found:
        click.echo("no whisperops workers registered")
        return
    for line in render_table(found):
        click.echo(line)
