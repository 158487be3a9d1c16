"""Procfile ``watcher``: ``python -m workers.watcher [--once]``.

Same as ``whisperops watch``: ingests audio files dropped into the inbox.
"""

from workers import run

if __name__ == "__main__":
    run("watch")
