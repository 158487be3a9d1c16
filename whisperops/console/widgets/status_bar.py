"""The two lines above the table (counts, queues, filter) and the outage banner."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from whisperops.console.snapshot import Query, Snapshot
from whisperops.models import Status


class StatusBar(Static):
    """Counts per status, workers and clock; then queue depths, what is shown, the sort."""

    def show(self, snapshot: Snapshot, last_good: Snapshot, query: Query, shown: int) -> None:
        """Show ``snapshot``; counts come from ``last_good``, the last poll that read the DB."""
        counts = last_good.counts
        bar = Text(" · ".join(f"{status.value} {counts.get(status, 0):,}" for status in Status))
        if snapshot.redis_error is None:
            bar.append(f" │ workers {snapshot.workers_online}")
        if snapshot.fetched_at:
            bar.append(f" │ {snapshot.fetched_at:%H:%M:%S} UTC")
        line = []
        if snapshot.redis_error is None:
            line.append(
                "queues "
                + " ".join(
                    f"{name.removeprefix('whisperops-')} {depth}"
                    for name, depth in snapshot.queue_depths.items()
                )
            )
        filtered = query.status.value if query.status else "all"
        if query.search:
            filtered += f" ~{query.search!r}"
        line.append(f"{filtered} {shown:,}/{last_good.matching:,}")
        line.append(f"sort {query.sort.value}")
        bar.append("\n" + " │ ".join(line))
        self.update(bar)


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
