"""How one recording becomes one table row: plain values first, Rich Text only on change.

Cells are Rich ``Text`` built from plain strings, never parsed as markup, so a file
named ``[bold]x[/].wav`` shows literally.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from whisperops.models import Status, Step
from whisperops.progress import live_progress
from whisperops.schemas import RecordingListItem
from whisperops.text import age, dash, truncate

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


def row_values(row: RecordingListItem, now: datetime, width: int) -> tuple[str, ...]:
    """The plain text of each cell of ``row`` in COLUMNS order, sized for ``width``.

    Narrow terminals (80 columns) keep the file name short and let the table scroll
    sideways to the error; wide ones give file name and error the spare room.
    """
    if width >= WIDE_TERMINAL:
        file_width = 40
        error_width = max(20, width - _FIXED_COLUMNS_WIDTH - file_width - 2)
    else:
        file_width, error_width = 22, 28
    return (
        str(row.id),
        truncate(row.file_name, file_width),
        row.status.value,
        row.processing_step or "-",
        progress_value(row, now),
        age(row.processing_step_started_at, now) if row.processing_step else "-",
        dash(row.processing_segments_count),
        str(row.retry_count),
        age(row.updated_at, now),
        truncate(row.error_message, error_width),
    )


def cell(column: str, value: str) -> Text:
    """The Text for one cell; styling depends only on the column and the value."""
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
