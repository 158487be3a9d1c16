"""`whisperops pause` and `whisperops resume`: stop and restart enqueueing, on every host.

Both go through :mod:`whisperops.ops.drain` and print one line.
"""

from __future__ import annotations

import click

from whisperops import ops
from whisperops.cli.context import Context, pass_context
from whisperops.text import literal


@click.command(name="pause")
@click.option("--reason", help="Why; shown by `whisperops status`, the console and the log.")
@pass_context
def pause(context: Context, reason: str | None) -> None:
    """Pause intake: nothing new is enqueued on any host until `whisperops resume`.

    Jobs still waiting on the transcribe queue are withdrawn (their recordings stay
    queued); running jobs finish. The watcher still adds new files as queued.
    Pausing again is harmless and says so.
    """
    context.database()
    click.echo(literal(ops.pause_intake(context.settings, reason)))


@click.command(name="resume")
@pass_context
def resume(context: Context) -> None:
    """Resume intake and enqueue queued recordings at once (up to max_in_flight)."""
    context.database()
    click.echo(literal(ops.resume_intake(context.settings)))
