"""Where the time goes and what fails: done per bucket, step durations, failure groups.

Enter on a failure group closes the screen with that group, and the app narrows
the main table to exactly its recordings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Sparkline, Static

from whisperops.console.snapshot import Query
from whisperops.db import database_proxy
from whisperops.stats import FailureGroup, Stats, Window, read_stats
from whisperops.text import age, format_duration, truncate

WINDOW_KEYS = {Window.HOUR: "h", Window.DAY: "d", Window.ALL: "a"}
_STEP_LEAD = re.compile(r"^Step \w+ (?:\([^)]*\) )?failed: ")
WINDOW_NAMES = {Window.HOUR: "last 1 h", Window.DAY: "last 24 h", Window.ALL: "all time"}


def bucket_name(bucket: timedelta) -> str:
    """5 min, 1 h, 12 h, 7 d: the width of one sparkline bar."""
    minutes = int(bucket.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def short_pattern(group: FailureGroup) -> str:
    """The group's message without its "Step <step> (...) failed: " lead (the step column
    says it), so the part that tells groups apart fits at 80 columns."""
    return _STEP_LEAD.sub("", group.pattern)


def group_query(group: FailureGroup, current: Query) -> Query:
    """The main table narrowed to exactly ``group``'s recordings, whatever their status now."""
    label = truncate(f"failed in {group.step or '?'}: {short_pattern(group)}", 40)
    if len(group.recording_ids) < group.count:
        label += f" (newest {len(group.recording_ids):,})"
    return Query(sort=current.sort, ids=group.recording_ids, label=label)


def without_group(query: Query) -> Query | None:
    """``query`` with its group filter dropped (escape on the table); None without one."""
    if query.ids is None:
        return None
    return Query(query.status, query.search, query.sort, query.limit)


class StatsScreen(ModalScreen[Query | None]):
    """Loads its numbers in a thread of its own when shown, on a window key and on ctrl+r.

    Closes with the main table's next query when a failure group is picked (enter),
    else None. Modal, so the main table's keys (requeue, fail...) do not act behind it.
    """

    CSS_PATH = "stats.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,backspace", "close", "Back"),
        Binding("h", "window('1h')", "1 h"),
        Binding("d", "window('24h')", "24 h"),
        Binding("a", "window('all')", "All"),
        Binding("enter", "show_group", "Show group"),
        Binding("ctrl+r", "reload", "Reload", show=False),
    ]

    class Loaded(Message):
        def __init__(self, stats: Stats | None, error: str | None = None) -> None:
            super().__init__()
            self.stats = stats
            self.error = error

    def __init__(
        self, now: Callable[[], datetime], current: Query, window: Window = Window.DAY
    ) -> None:
        super().__init__()
        self.now = now
        self.current = current
        self.window = window
        self.stats: Stats | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="stats-head")
        yield Static("Loading...", id="stats-done")
        yield Sparkline([], id="stats-spark")
        yield DataTable(id="stats-steps", cursor_type="none", zebra_stripes=True)
        yield Static(id="stats-failures-head")
        yield DataTable(id="stats-failures", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        steps = self.query_one("#stats-steps", DataTable)
        steps.add_columns("step", "runs", "p50", "p95", "total", "share")
        failures = self.query_one("#stats-failures", DataTable)
        failures.add_columns("step", "count", "message", "newest, ago")
        failures.focus()
        self.action_reload()

    def action_window(self, window: str) -> None:
        self.window = Window(window)
        self.action_reload()

    def action_reload(self) -> None:
        self.show_head()
        self.load(self.window)

    def action_close(self) -> None:
        self.dismiss(None)

    def action_show_group(self) -> None:
        table = self.query_one("#stats-failures", DataTable)
        if self.stats is None or not self.stats.failures or table.row_count == 0:
            return
        self.dismiss(group_query(self.stats.failures[table.cursor_row], self.current))

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter reaches the table first; the app must not take it as "open detail".
        event.stop()
        if event.data_table.id == "stats-failures":
            self.action_show_group()

    @work(thread=True, exclusive=True)
    def load(self, window: Window) -> None:
        try:
            with database_proxy.connection_context():
                self.post_message(self.Loaded(read_stats(window, self.now())))
        except Exception as exc:  # shown on the screen; ctrl+r tries again
            self.post_message(self.Loaded(None, f"Could not read the stats: {exc}"))

    def show_head(self) -> None:
        head = Text("Stats ", style="bold")
        for window, key in WINDOW_KEYS.items():
            style = "reverse bold" if window is self.window else ""
            head.append(f" {key} {WINDOW_NAMES[window]} ", style=style)
            head.append(" ")
        self.query_one("#stats-head", Static).update(head)

    @on(Loaded)
    def show(self, message: Loaded) -> None:
        if message.stats is None or message.stats.window is not self.window:
            if message.error:
                self.query_one("#stats-done", Static).update(Text(message.error))
            return
        self.stats = stats = message.stats
        self.show_done(stats)
        self.show_steps(stats)
        self.show_failures(stats)

    def show_done(self, stats: Stats) -> None:
        if stats.start is None:
            text = "Done: none yet"
        else:
            text = (
                f"Done: {stats.done_total:,} since {stats.start:%Y-%m-%d %H:%M} UTC, "
                f"per {bucket_name(stats.bucket)} (bars 0 to {max(stats.done, default=0):,})"
            )
        self.query_one("#stats-done", Static).update(Text(text))
        self.query_one("#stats-spark", Sparkline).data = [float(n) for n in stats.done]

    def show_steps(self, stats: Stats) -> None:
        table = self.query_one("#stats-steps", DataTable)
        table.clear()
        for row in stats.steps:
            table.add_row(
                Text(row.step),
                Text(f"{row.runs:,}", justify="right"),
                Text(format_duration(row.p50_sec, fraction=True), justify="right"),
                Text(format_duration(row.p95_sec, fraction=True), justify="right"),
                Text(format_duration(row.total_sec), justify="right"),
                Text(f"{row.share:.1f}%", justify="right"),
            )
        if not stats.steps:
            table.add_row("no finished steps", "", "", "", "", "")

    def show_failures(self, stats: Stats) -> None:
        recordings = sum(group.count for group in stats.failures)
        self.query_one("#stats-failures-head", Static).update(
            Text(
                f"Failed: {recordings:,} recordings in {len(stats.failures):,} groups"
                + (" (enter: show a group in the table)" if stats.failures else "")
            )
        )
        table = self.query_one("#stats-failures", DataTable)
        table.clear()
        # The message column takes what the other columns (and their padding) leave.
        width = max(20, self.app.size.width - 56)
        for group in stats.failures:
            newest = group.newest
            # Text, not str: a str cell is read as markup, and these come from file names.
            table.add_row(
                Text(group.step or "?"),
                Text(f"{group.count:,}", justify="right"),
                Text(truncate(short_pattern(group), width)),
                Text(
                    f"#{newest.recording_id} {truncate(newest.file_name, 14)} "
                    f"{age(newest.at, stats.now)}"
                ),
            )
