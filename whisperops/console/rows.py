"""How one recording becomes one table row: plain values first, Rich Text only on change.

Cells are Rich ``Text`` built from plain strings, never parsed as markup, so a file
named ``[bold]x[/].wav`` shows literally.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from whisperops.clock import as_utc
from whisperops.models import Status, Step
from whisperops.progress import live_progress
from whisperops.schemas import RecordingListItem
from whisperops.text import age, dash, format_duration, truncate

COLUMNS = ("id", "file", "status", "step", "est", "in step", "segs", "retry", "updated", "error")
RIGHT_ALIGNED = frozenset({"id", "in step", "segs", "retry", "updated"})

STATUS_STYLE = {
    Status.QUEUED.value: "cyan",
    Status.PROCESSING.value: "bold yellow",
    Status.DONE.value: "green",
    Status.FAILED.value: "bold red",
}

WIDE_TERMINAL = 120
"""From this terminal width on, file names and errors get more room."""

# Room the columns other than FILE and ERROR take, padding included.
_FIXED_COLUMNS_WIDTH = 68
_BAR_CELLS = 5


def progress_value(row: RecordingListItem, now: datetime) -> str:
    if row.status is not Status.PROCESSING or row.processing_step != Step.TRANSCRIBE:
        return "-"
    ratio = live_progress(row.progress_ratio, row.estimated_finish_at, row.updated_at, now)
    if ratio is None:
        return "…"
    filled = round(ratio * _BAR_CELLS)
    return f"{'█' * filled}{'░' * (_BAR_CELLS - filled)} {round(ratio * 100):>2d}%"


MARK = "●"
"""Shown before the id of a marked row."""

STUCK_SOON = "no update "
"""How the error cell of a stuck-soon row begins (and how the table recognises one)."""

WARNING_STYLE = "bold dark_orange"
WARNING_ID_STYLE = "bold black on dark_orange"


def stuck_soon(
    row: RecordingListItem, now: datetime, threshold_sec: float | None
) -> tuple[float, float] | None:
    """(seconds without an update, seconds until the sweep may take it), or None.

    Only for a processing recording not updated for half the stuck threshold: the
    operator sees it coming before the sweep requeues or fails it.
    """
    if not threshold_sec or row.status is not Status.PROCESSING:
        return None
    silent = (as_utc(now) - as_utc(row.updated_at)).total_seconds()
    if silent < threshold_sec / 2:
        return None
    return silent, threshold_sec - silent


def _error_value(
    row: RecordingListItem, now: datetime, threshold_sec: float | None, width: int
) -> str:
    soon = stuck_soon(row, now, threshold_sec)
    if soon is None:
        return truncate(row.error_message, width)
    silent, left = soon
    sweep = "sweep due" if left <= 0 else f"sweep in {format_duration(left, minutes=True)}"
    return truncate(f"{STUCK_SOON}{format_duration(silent, minutes=True)} · {sweep}", width)


def row_values(
    row: RecordingListItem,
    now: datetime,
    width: int,
    stuck_threshold_sec: float | None = None,
    marked: bool = False,
) -> tuple[str, ...]:
    """The plain text of each cell of ``row`` in COLUMNS order, sized for ``width``.

    Narrow terminals (80 columns) keep the file name short and let the table scroll
    sideways to the error; wide ones give file name and error the spare room. A
    marked row's id has MARK before it; a processing row silent for half of
    ``stuck_threshold_sec`` says so in its error cell, with the time left until the
    sweep may take it.
    """
    if width >= WIDE_TERMINAL:
        file_width = 40
        error_width = max(20, width - _FIXED_COLUMNS_WIDTH - file_width - 2)
    else:
        file_width, error_width = 22, 28
    return (
        f"{MARK} {row.id}" if marked else str(row.id),
        truncate(row.file_name, file_width),
        row.status.value,
        row.processing_step or "-",
        progress_value(row, now),
        age(row.processing_step_started_at, now) if row.processing_step else "-",
        dash(row.processing_segments_count),
        str(row.retry_count),
        age(row.updated_at, now),
        _error_value(row, now, stuck_threshold_sec, error_width),
    )


def is_stuck_soon(values: tuple[str, ...]) -> bool:
    """Whether a row's cell values (from row_values) are those of a stuck-soon row."""
    return values[2] == Status.PROCESSING.value and values[-1].startswith(STUCK_SOON)


def cell(column: str, value: str, warn: bool = False) -> Text:
    """The Text for one cell; styling depends only on the column, the value and ``warn``.

    ``warn`` (a stuck-soon row) puts the id, status, last update and error in the
    warning style.
    """
    if warn and column in ("id", "status", "updated", "error"):
        justify = "right" if column in RIGHT_ALIGNED else "left"
        # The id stands out even at 80 columns, where the error cell is off to the right.
        style = WARNING_ID_STYLE if column == "id" else WARNING_STYLE
        return Text(value, style=style, justify=justify)
    if column == "id" and value.startswith(MARK):
        return Text.assemble((MARK, "bold magenta"), value[len(MARK) :], justify="right")
    if column == "status":
        return Text(value, style=STATUS_STYLE[value])
    if column == "error":
        return Text(value, style="red")
    if column == "est" and value[:1] in "█░":
        bar, percent = value.split(" ", 1)
        return Text.assemble(
            ("█" * bar.count("█"), "yellow"), ("░" * bar.count("░"), "dim"), f" {percent}"
        )
    if value in ("-", "…"):
        return Text(value, style="dim", justify="right" if column in RIGHT_ALIGNED else "left")
    return Text(value, justify="right" if column in RIGHT_ALIGNED else "left")
