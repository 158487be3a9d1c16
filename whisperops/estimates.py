"""Reading the stored progress estimate as it stands now, between worker writes."""

from __future__ import annotations

from datetime import UTC, datetime

_MAX_BEFORE_DONE = 0.99


def live_progress(
    ratio: float | None, finish_at: datetime | None, written_at: datetime | None, now: datetime
) -> float | None:
    """The worker's last estimate carried forward to ``now``.

    The worker stores (ratio, estimated finish) with updated_at at each write; between
    writes the estimate moves linearly toward the finish, so a reader sees it keep
    moving without the worker writing more often.
    """
    if ratio is None:
        return None
    now, finish_at, written_at = (_aware(moment) for moment in (now, finish_at, written_at))
    if finish_at is None or written_at is None or finish_at <= written_at:
        return ratio
    share = (now - written_at) / (finish_at - written_at)
    return min(_MAX_BEFORE_DONE, ratio + (1 - ratio) * min(1.0, max(0.0, share)))


def _aware(moment: datetime | None) -> datetime | None:
    # The DB hands out naive UTC, the schemas aware UTC; compare them as aware.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
