"""Commands on recordings: add, list, show, requeue, fail (one or in bulk), rediarize,
enqueue, sweep.

Every state change goes through :mod:`whisperops.ops`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from whisperops import ops
from whisperops.cli.context import Context, pass_context
from whisperops.models import Status, Step
from whisperops.text import age, dash, literal, render_detail, truncate


@click.command()
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


@click.command(name="list")
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


@click.command()
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


STEP_CHOICE = click.Choice([step.value for step in Step])


def selection_options(command):
    """The filters shared by bulk requeue and fail: every recording matching all of them."""
    for option in reversed(
        [
            click.option("--status", type=STATUS_CHOICE, help="Only recordings with this status."),
            click.option(
                "--step",
                type=STEP_CHOICE,
                help="Only recordings processing this step, or failed in it "
                "(by their error message).",
            ),
            click.option(
                "--search", help="Only file names containing this text (case-insensitive)."
            ),
            click.option(
                "--dry-run", is_flag=True, help="List what would be selected; change nothing."
            ),
        ]
    ):
        command = option(command)
    return command


def _select(
    recording_ids: tuple[int, ...], status: str | None, step: str | None, search: str | None
) -> dict[int, ops.Seen]:
    """The marked set for a bulk command: the ids given, narrowed by the filters given."""
    if not recording_ids and not (status or step or search):
        raise click.UsageError("give recording ids, or at least one of --status, --step, --search")
    marks = ops.select_marks(
        Status(status) if status else None, step, search, recording_ids or None
    )
    for missing in sorted(set(recording_ids) - set(marks)):
        if not (status or step or search):
            click.echo(f"no recording with id {missing}", err=True)
    described = ", ".join(
        f"{name} {value!r}" if name == "search" else f"{name} {value}"
        for name, value in (("status", status), ("step", step), ("search", search))
        if value
    )
    click.echo(
        f"selected {len(marks)} recording{'s' if len(marks) != 1 else ''}"
        + (f" ({described})" if described else "")
    )
    return marks


def _dry_run(marks: dict[int, ops.Seen], verb: str) -> None:
    for recording in ops.list_selected(marks):
        click.echo(
            f"#{recording.id} {recording.status.value:<10} {literal(recording.file_name)}"
            + (f"  ! {truncate(recording.error_message, 70)}" if recording.error_message else "")
        )
    click.echo(f"dry run: would {verb} {len(marks)}; nothing changed")


def _single(recording_ids: tuple[int, ...], *filters: object) -> int | None:
    """The one id of a plain single-recording command (today's form and output), else None."""
    return recording_ids[0] if len(recording_ids) == 1 and not any(filters) else None


@click.command()
@click.argument("recording_ids", metavar="[IDS]...", type=int, nargs=-1)
@selection_options
@pass_context
def requeue(
    context: Context,
    recording_ids: tuple[int, ...],
    status: str | None,
    step: str | None,
    search: str | None,
    dry_run: bool,
) -> None:
    """Put recordings back in the queue and start them at once, at most max_in_flight
    (fences off any job still running for them; the sweep enqueues the rest).

    Give recording ids, or filters selecting every matching recording, e.g.
    `whisperops requeue --status failed --step transcribe`. Ids and filters
    together requeue those of the ids that match. A recording that changed
    since it was selected is left alone and counted; queued ones are skipped.
    """
    context.database()
    single = _single(recording_ids, status, step, search, dry_run)
    if single is not None:
        recording = ops.requeue(single)
        click.echo(
            f"requeued #{recording.id} {literal(recording.file_name)} "
            f"(attempt {recording.attempt}): " + ops.start([recording], context.settings)
        )
        return
    marks = _select(recording_ids, status, step, search)
    if dry_run:
        _dry_run(marks, "requeue")
        return
    outcome = ops.requeue_marked(marks)
    click.echo(outcome.describe())
    click.echo(ops.start(outcome.changed, context.settings))


@click.command()
@click.argument("recording_ids", metavar="[IDS]...", type=int, nargs=-1)
@selection_options
@click.option("--reason", required=True, help="Why; stored in the recording's error_message.")
@pass_context
def fail(
    context: Context,
    recording_ids: tuple[int, ...],
    status: str | None,
    step: str | None,
    search: str | None,
    dry_run: bool,
    reason: str,
) -> None:
    """Mark queued or processing recordings as failed.

    Give recording ids, or filters selecting every matching recording, e.g.
    `whisperops fail --status queued --search 2026-11 --reason "wrong batch"`.
    Ids and filters together fail those of the ids that match. Done or failed
    ones are skipped; one that changed while this ran is left alone and counted.
    """
    context.database()
    single = _single(recording_ids, status, step, search, dry_run)
    if single is not None:
        recording = ops.fail(single, reason)
        click.echo(
            f"failed #{recording.id} {literal(recording.file_name)}: "
            f"{literal(recording.error_message)}"
        )
        return
    marks = _select(recording_ids, status, step, search)
    if dry_run:
        _dry_run(marks, "fail")
        return
    click.echo(ops.fail_marked(marks, reason).describe())


@click.command()
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


@click.command()
@pass_context
def enqueue(context: Context) -> None:
    """Put queued recordings without a live job on the transcribe queue (oldest first,
    at most max_in_flight in flight; nothing while intake is paused)."""
    context.database()
    from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue

    report = enqueue_queued(transcribe_queue(context.redis()), context.settings)
    click.echo(
        literal(report.describe()) + f"; {report.in_flight} were in flight (max_in_flight "
        f"{context.settings.max_in_flight})"
    )


@click.command()
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
