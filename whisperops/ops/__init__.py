"""Operations on recordings: the one place that changes their state.

The CLI, the console, the watcher and the sweep call these; the worker's job writes
through :class:`~whisperops.ops.attempt.FencedRecording`. Both go through
:func:`~whisperops.ops.transitions.guarded_update`.
"""

from whisperops.ops.ingest import AddResult, add_paths, ingest_file, sha256_of
from whisperops.ops.queries import get_recording, list_recordings, show_recording
from whisperops.ops.start_now import start
from whisperops.ops.transitions import fail, rediarize, rediarize_pending, requeue

__all__ = [
    "AddResult",
    "add_paths",
    "fail",
    "get_recording",
    "ingest_file",
    "list_recordings",
    "rediarize",
    "rediarize_pending",
    "requeue",
    "sha256_of",
    "show_recording",
    "start",
]
