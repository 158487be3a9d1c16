"""Requeue or fail a marked set of recordings, each through its one fenced transition.

A mark remembers the attempt and status a recording had when the operator chose it
(:class:`~whisperops.ops.queries.Seen`). A recording that has moved on since — a
worker finished it, the sweep took it, another operator requeued it — is left alone
and counted, never acted on as if nothing had happened.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from whisperops.models import Recording
from whisperops.ops.queries import Seen
from whisperops.ops.transitions import (
    MovedOnError,
    RefusedError,
    fail_read,
    requeue_read,
    required_reason,
)

log = logging.getLogger(__name__)

# Rows read per query: bounded so a large set never builds one huge IN (...).
_CHUNK = 500


@dataclass
class BulkOutcome:
    """What one bulk action did: changed, moved on meanwhile, skipped (with why)."""

    verb: str
    changed: list[Recording] = field(default_factory=list)
    moved_on: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def describe(self) -> str:
        """'requeued 310; 2 had moved on meanwhile; 1 skipped (already queued)'."""
        parts = [f"{self.verb} {len(self.changed)}"]
        if self.moved_on:
            parts.append(f"{len(self.moved_on)} had moved on meanwhile")
        if self.skipped:
            reasons = Counter(reason for _id, reason in self.skipped)
            why = (
                next(iter(reasons))
                if len(reasons) == 1
                else ", ".join(f"{count} {reason}" for reason, count in reasons.most_common())
            )
            parts.append(f"{len(self.skipped)} skipped ({why})")
        return "; ".join(parts)


def requeue_marked(marks: Mapping[int, Seen], now: datetime | None = None) -> BulkOutcome:
    """Requeue every marked recording still as it was marked.

    The caller then starts them: ``ops.start(outcome.changed, settings)``.
    """
    return _apply_marked(marks, "requeued", lambda recording: requeue_read(recording, now))


def fail_marked(marks: Mapping[int, Seen], reason: str, now: datetime | None = None) -> BulkOutcome:
    """Fail every marked recording still as it was marked, with the operator's reason."""
    reason = required_reason(reason)  # refused before anything changes
    return _apply_marked(marks, "failed", lambda recording: fail_read(recording, reason, now))


def _apply_marked(
    marks: Mapping[int, Seen], verb: str, transition: Callable[[Recording], Recording]
) -> BulkOutcome:
    outcome = BulkOutcome(verb)
    ids = sorted(marks)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found = {r.id: r for r in Recording.select().where(Recording.id.in_(chunk))}
        for recording_id in chunk:
            recording = found.get(recording_id)
            seen = marks[recording_id]
            if recording is None or (recording.attempt, recording.status) != tuple(seen):
                outcome.moved_on.append(recording_id)
                continue
            try:
                outcome.changed.append(transition(recording))
            except RefusedError as exc:
                outcome.skipped.append((recording_id, exc.reason))
            except MovedOnError:  # changed between this read and the guarded update
                outcome.moved_on.append(recording_id)
    log.info("Bulk action on %d marked recordings: %s", len(marks), outcome.describe())
    return outcome
