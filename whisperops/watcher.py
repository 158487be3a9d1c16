"""`whisperops watch`: ingest audio files dropped into the inbox once they stop changing.

A file is taken when its size and modification time are the same on two polls in
a row and it is at least ``watcher_stable_sec`` old, so a file still being
copied in is left alone. Only audio extensions; symlinks and anything that
resolves outside the inbox are refused; SHA-256 de-duplication is the one in
ops.ingest_file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from whisperops import ops
from whisperops.config import Settings
from whisperops.health.service_errors import Outage, database_error

log = logging.getLogger(__name__)


class InboxWatcher:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.inbox = settings.inbox_dir
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.last_seen: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns)
        self.settled: set[Path] = set()  # taken or refused: not looked at again
        self.redis_outage = Outage("Watcher: Redis", log)

    def _files(self) -> Iterator[Path]:
        pattern = "**/*" if self.settings.watcher_recursive else "*"
        for path in sorted(self.inbox.glob(pattern)):
            if path.name.startswith("."):
                continue  # hidden and temporary files (".name.part", editors' swap files)
            if path.is_symlink() or path.is_file():
                yield path

    def _refuse(self, path: Path, reason: str) -> None:
        log.warning("Watcher refused %r: %s", str(path), reason)
        self.settled.add(path)

    def poll_once(self) -> list[ops.AddResult]:
        """Look at the inbox once; ingest the files that have settled."""
        taken = []
        present = set()
        inbox = self.inbox.resolve()
        for path in self._files():
            present.add(path)
            if path in self.settled:
                continue
            if path.suffix.lower() not in self.settings.audio_extensions:
                self.settled.add(path)
                continue
            if path.is_symlink():
                self._refuse(path, "symlinks are not ingested from the inbox")
                continue
            if not path.resolve().is_relative_to(inbox):
                self._refuse(path, f"resolves outside the inbox {inbox}")
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                log.info("Watcher: %r vanished before it was taken; ignored", str(path))
                continue
            signature = (stat.st_size, stat.st_mtime_ns)
            old_enough = self.clock() - stat.st_mtime >= self.settings.watcher_stable_sec
            if self.last_seen.get(path) != signature or not old_enough:
                self.last_seen[path] = signature
                continue
            result = ops.ingest_file(path, self.settings)
            if result.outcome == "error" and "no such file" in result.reason:
                log.info("Watcher: %r vanished before it was taken; ignored", str(path))
                continue
            if result.outcome != "added":
                log.info("Watcher skipped %r: %s", str(path), result.reason)
            self.settled.add(path)
            self.last_seen.pop(path, None)
            taken.append(result)
        # Forget files that left the inbox, so a new file with the same name is seen.
        for gone in (self.settled | set(self.last_seen)) - present:
            self.settled.discard(gone)
            self.last_seen.pop(gone, None)
        return taken

    def run(self) -> None:
        log.info(
            "Watching %s every %ss (stable after %ss%s)",
            self.inbox,
            self.settings.watcher_poll_sec,
            self.settings.watcher_stable_sec,
            ", with subfolders" if self.settings.watcher_recursive else "",
        )
        database = Outage("Watcher: the database", log)
        while True:
            try:
                taken = self.poll_once()
                if any(result.outcome == "added" for result in taken):
                    self.enqueue_now()
            except Exception as exc:  # one bad poll (DB down) must not stop the watcher
                if database_error(exc, self.settings.database_url.get_secret_value()) is None:
                    log.exception("Watcher poll failed; retrying")
                else:  # one line when it goes, one when it is back
                    database.down(exc)
            else:
                if taken:  # only a poll that took a file has used the database
                    database.up()
            time.sleep(self.settings.watcher_poll_sec)

    def enqueue_now(self) -> None:
        """Put new recordings on the queue at once instead of at the next sweep.

        Best effort: if Redis cannot be reached the sweep enqueues them later.
        """
        from whisperops.jobs.enqueue import enqueue_queued, transcribe_queue
        from whisperops.redis_server import connect_redis

        try:
            enqueue_queued(transcribe_queue(connect_redis(self.settings)), self.settings)
        except Exception as exc:
            self.redis_outage.down(exc, "new recordings are left to the sweep")
        else:
            self.redis_outage.up()
