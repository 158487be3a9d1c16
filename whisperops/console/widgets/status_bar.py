"""The lines above the table (totals, backlog and intake, queues and filter) and the
outage banner."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from whisperops.console.snapshot import Query, Snapshot
from whisperops.models import Status
from whisperops.text import literal


class StatusBar(Static):
    """Three lines: totals; backlog and intake; what the table shows.

    Each line is built by a method of its own; a line with nothing to say is left out.
    """

    def show(
        self, snapshot: Snapshot, last_good: Snapshot, query: Query, shown: int, marked: int = 0
    ) -> None:
        """Show ``snapshot``; counts come from ``last_good``, the last poll that read the DB."""
        lines = [
            self.totals_line(snapshot, last_good),
            self.pace_line(snapshot, last_good),
            self.table_line(snapshot, last_good, query, shown, marked),
        ]
        # Each line is cut (…), not wrapped (app.tcss): a wrapped line would push the
        # last one out of the bar's three rows at 80 columns.
        self.update(Text("\n").join(line for line in lines if line.plain))

    def totals_line(self, snapshot: Snapshot, last_good: Snapshot) -> Text:
        counts = last_good.counts
        bar = Text(" · ".join(f"{status.value} {counts.get(status, 0):,}" for status in Status))
        if snapshot.redis_error is None:
            bar.append(f" │ workers {snapshot.workers_online}")
        if snapshot.fetched_at:
            bar.append(f" │ {snapshot.fetched_at:%H:%M:%S} UTC")
        return bar

    def pace_line(self, snapshot: Snapshot, last_good: Snapshot) -> Text:
        """The queued audio and when it will be done; whether intake is paused."""
        # Intake first: at 80 columns a long line wraps, and a pause must stay in view.
        parts = [self.intake_text(last_good), self.backlog_text(last_good)]
        if last_good.stuck_soon:  # here, not on the table line: that one is full at 80 columns
            parts.append(Text(f"{last_good.stuck_soon} stuck soon", style="bold dark_orange"))
        return Text(" │ ").join(part for part in parts if part.plain)

    def backlog_text(self, snapshot: Snapshot) -> Text:
        """'backlog 14h20m audio · ~2h10m at current pace (3 workers)'; empty until read."""
        if snapshot.backlog is None:
            return Text()
        return Text(snapshot.backlog.describe())

    def intake_text(self, snapshot: Snapshot) -> Text:
        """'INTAKE PAUSED since 14:02 by ops@farm1' (UTC, like the clock) in bold red;
        empty while running."""
        intake = snapshot.intake
        if intake is None or not intake.paused:
            return Text()
        said = "INTAKE PAUSED"
        if intake.changed_at is not None:
            said += f" since {intake.changed_at:%H:%M}"
        if intake.changed_by:
            said += f" by {intake.changed_by}"
        return Text(literal(said), style="bold red")

    def table_line(
        self, snapshot: Snapshot, last_good: Snapshot, query: Query, shown: int, marked: int
    ) -> Text:
        parts = []
        if snapshot.redis_error is None:
            parts.append(
                "queues "
                + " ".join(
                    f"{name.removeprefix('whisperops-')} {depth}"
                    for name, depth in snapshot.queue_depths.items()
                )
            )
        filtered = query.status.value if query.status else "all"
        if query.search:
            filtered += f" ~{query.search!r}"
        if query.ids is not None:  # a group from the stats screen, whatever its statuses
            filtered = f"{query.label or 'group'} (esc: all)"
        parts.append(f"{filtered} {shown:,}/{last_good.matching:,}")
        parts.append(f"sort {query.sort.value}")
        if marked:
            parts.append(f"marked {marked:,}")
        return Text(" │ ".join(parts))


class Banner(Static):
    """What is unreachable, in one line; hidden while everything answers."""

    def show(self, snapshot: Snapshot, refresh_sec: float) -> None:
        problems = []
        if snapshot.db_error:
            problems.append(f"Database unreachable: {snapshot.db_error}")
        if snapshot.redis_error:
            problems.append(f"Redis unreachable: {snapshot.redis_error}")
        self.display = bool(problems)
        if problems:
            self.update(Text(" | ".join(problems) + f" — retrying every {refresh_sec:g}s"))
