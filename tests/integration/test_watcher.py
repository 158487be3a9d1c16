"""The inbox watcher: stable files only, audio only, nothing from outside the inbox."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from tests.audio import write_tone_wav
from tests.integration.cli_runner import run_cli
from whisperops.config import Settings
from whisperops.models import Recording
from whisperops.watcher import InboxWatcher


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def watcher_settings(settings: Settings, migrated_db, tmp_path: Path) -> Settings:
    return settings.replace(inbox_dir=tmp_path / "inbox", watcher_stable_sec=5)


def settle(path: Path, age_sec: float, clock: Clock) -> None:
    os.utime(path, (clock.now - age_sec, clock.now - age_sec))


def names(results) -> list[tuple[str, str]]:
    return [(r.path.name, r.outcome) for r in results]


def test_takes_a_file_once_unchanged_over_two_polls_and_old_enough(
    watcher_settings: Settings,
) -> None:
    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings, clock)
    call = write_tone_wav(watcher_settings.inbox_dir / "call.wav", frequency=300)
    settle(call, 60, clock)

    assert watcher.poll_once() == []  # first sight
    assert names(watcher.poll_once()) == [("call.wav", "added")]
    assert watcher.poll_once() == []  # never taken twice
    assert Recording.select().count() == 1


def test_growing_or_fresh_file_waits(watcher_settings: Settings) -> None:
    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings, clock)
    call = write_tone_wav(watcher_settings.inbox_dir / "copying.wav", frequency=300)
    settle(call, 1, clock)  # just written
    watcher.poll_once()
    assert watcher.poll_once() == []  # unchanged, but younger than 5 s
    with call.open("ab") as handle:  # the copy goes on
        handle.write(b"\0" * 1000)
    settle(call, 10, clock)
    assert watcher.poll_once() == []  # size changed since the last poll
    assert names(watcher.poll_once()) == [("copying.wav", "added")]


def test_non_audio_symlinks_and_hidden_files_are_not_taken(
    watcher_settings: Settings, tmp_path: Path, caplog
) -> None:
    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings, clock)
    inbox = watcher_settings.inbox_dir
    outside = write_tone_wav(tmp_path / "secret.wav", frequency=500)
    (inbox / "escape.wav").symlink_to(outside)
    (inbox / "notes.txt").write_text("x")
    write_tone_wav(inbox / ".partial.wav", frequency=600)
    for path in (outside, inbox / "notes.txt", inbox / ".partial.wav"):
        settle(path, 60, clock)
    caplog.set_level(logging.INFO, logger="whisperops.watcher")

    watcher.poll_once()
    assert watcher.poll_once() == []

    assert Recording.select().count() == 0
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused == [
        f"Watcher refused {str(inbox / 'escape.wav')!r}: symlinks are not ingested from the inbox"
    ]


def test_duplicate_content_under_another_name_is_skipped_with_reason(
    watcher_settings: Settings, caplog
) -> None:
    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings, clock)
    first = write_tone_wav(watcher_settings.inbox_dir / "a.wav", frequency=300)
    copy = watcher_settings.inbox_dir / "b.wav"
    copy.write_bytes(first.read_bytes())
    settle(first, 60, clock)
    settle(copy, 60, clock)
    caplog.set_level(logging.INFO, logger="whisperops.watcher")

    watcher.poll_once()
    results = watcher.poll_once()

    assert names(results) == [("a.wav", "added"), ("b.wav", "skipped")]
    assert results[1].reason.startswith("duplicate of #")
    assert any(
        "Watcher skipped" in r.getMessage() and "b.wav" in r.getMessage() for r in caplog.records
    )


def test_vanished_file_is_logged_and_ignored(watcher_settings: Settings, caplog) -> None:
    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings, clock)
    gone = write_tone_wav(watcher_settings.inbox_dir / "gone.wav", frequency=300)
    keep = write_tone_wav(watcher_settings.inbox_dir / "keep.wav", frequency=400)
    settle(gone, 60, clock)
    settle(keep, 60, clock)
    caplog.set_level(logging.INFO, logger="whisperops.watcher")
    watcher.poll_once()

    original = watcher._files

    def files_then_delete():
        for path in original():
            if path.name == "gone.wav":
                path.unlink()  # deleted between the listing and the stat
            yield path

    watcher._files = files_then_delete
    assert names(watcher.poll_once()) == [("keep.wav", "added")]
    assert any("vanished before it was taken" in r.getMessage() for r in caplog.records)


def test_subfolders_only_when_enabled(watcher_settings: Settings) -> None:
    clock = Clock(1_000_000.0)
    nested = watcher_settings.inbox_dir / "2026" / "11"
    nested.mkdir(parents=True)
    deep = write_tone_wav(nested / "deep.wav", frequency=300)
    settle(deep, 60, clock)

    flat = InboxWatcher(watcher_settings, clock)
    flat.poll_once()
    assert flat.poll_once() == []

    recursive = InboxWatcher(watcher_settings.replace(watcher_recursive=True), clock)
    recursive.poll_once()
    assert names(recursive.poll_once()) == [("deep.wav", "added")]


def test_watch_once_command(environ: dict[str, str], tmp_path: Path) -> None:
    run_cli(environ, "migrate")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    old = write_tone_wav(inbox / "old.wav", frequency=300)
    os.utime(old, (0, 1_000_000))
    env = {**environ, "WHISPEROPS_INBOX_DIR": str(inbox), "WHISPEROPS_WATCHER_POLL_SEC": "1"}
    result = run_cli(env, "watch", "--once")
    assert result.returncode == 0, result.stderr
    assert "added    #1" in result.stdout and "old.wav" in result.stdout


def test_taken_files_are_enqueued_at_once(
    watcher_settings: Settings, redis_url: str, redis
) -> None:
    from rq import Queue

    from whisperops.jobs.names import TRANSCRIBE_QUEUE

    clock = Clock(1_000_000.0)
    watcher = InboxWatcher(watcher_settings.replace(redis_url=redis_url), clock)
    call = write_tone_wav(watcher_settings.inbox_dir / "call.wav", frequency=300)
    settle(call, 60, clock)
    watcher.poll_once()
    (added,) = watcher.poll_once()

    watcher.enqueue_now()

    assert Queue(TRANSCRIBE_QUEUE, connection=redis).job_ids == [
        f"whisperops-recording-{added.recording_id}-attempt-1"
    ]
