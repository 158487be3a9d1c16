"""Operations on recordings: the one place that changes their state.

The CLI, the console, the watcher and the sweep call these; the worker's job writes
through :class:`~whisperops.ops.attempt.FencedRecording`. Both go through
:func:`~whisperops.ops.transitions.guarded_update`.
"""

from whisperops.ops.bulk import BulkOutcome, fail_marked, requeue_marked
from whisperops.ops.drain import pause_intake, resume_intake
from whisperops.ops.ingest import AddResult, add_paths, ingest_file, sha256_of
from whisperops.ops.intake import Intake, pause, read_intake, resume
from whisperops.ops.queries import (
    Seen,
    failed_step,
    get_recording,
    list_recordings,
    list_selected,
    select_marks,
    show_recording,
)
from whisperops.ops.start_now import start
from whisperops.ops.transitions import fail, rediarize, rediarize_pending, requeue

__all__ = [
    "AddResult",
    "BulkOutcome",
    "Intake",
    "Seen",
    "add_paths",
    "fail",
    "fail_marked",
    "failed_step",
    "get_recording",
    "ingest_file",
    "list_recordings",
    "list_selected",
    "pause",
    "pause_intake",
    "read_intake",
    "rediarize",
    "rediarize_pending",
    "requeue",
    "requeue_marked",
    "resume",
    "resume_intake",
    "select_marks",
    "sha256_of",
    "show_recording",
    "start",
]
