"""How one recording becomes one table row: cells as Rich Text, never markup."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from whisperops.estimates import live_progress
from whisperops.formatting import age, dash, truncate
from whisperops.models import Status
from whisperops.schemas import RecordingListItem

COLUMNS = ("id", "file", "status", "step", "est", "in step", "segs", "retry", "updated", "error")

STATUS_STYLE = {
    Status.QUEUED: "cyan",
    Status.PROCESSING: "bold yellow",
    Status.DONE: "green",
    Status.FAILED: "bold red",
}


def progress_text(row: RecordingListItem, now: datetime) -> Text:
    if row.status is not Status.PROCESSING or row.processing_step != "transcribe":
        return Text("-", style="dim")
    ratio = live_progress(row.progress_ratio, row.estimated_finish_at, row.updated_at, now)
    if ratio is None:
        return Text("…", style="dim")
    filled = round(ratio * 5)
    return Text.assemble(
        ("█" * filled, "yellow"), ("░" * (5 - filled), "dim"), f" {round(ratio * 100):>2d}%"
    )


# Room the columns other than FILE and ERROR take, padding included.
_FIXED_COLUMNS_WIDTH = 68


def row_cells(row: RecordingListItem, now: datetime, width: int) -> tuple:
    """The cells of ``row`` in COLUMNS order, sized for a terminal ``width`` wide.

    Narrow terminals (80 columns) keep the file name short and let the table scroll
    sideways to the error; wide ones give file name and error the spare room.
    """
    if width >= 120:
        file_width = 40
        error_width = max(20, width - _FIXED_COLUMNS_WIDTH - file_width - 2)
    else:
        file_width, error_width = 22, 28
    in_step = age(row.processing_step_started_at, now) if row.processing_step else "-"
    return (
        Text(str(row.id), justify="right"),
        Text(truncate(row.file_name, file_width)),
        Text(row.status.value, style=STATUS_STYLE[row.status]),
        Text(row.processing_step or "-"),
        progress_text(row, now),
        Text(in_step, justify="right"),
        Text(dash(row.processing_segments_count), justify="right"),
        Text(str(row.retry_count), justify="right"),
        Text(age(row.updated_at, now), justify="right"),
        Text(truncate(row.error_message, error_width), style="red"),
    )
