"""Procfile ``maintenance``: ``python -m workers.maintenance [--burst]``.

Same as ``whisperops worker --maintenance``: serves only the sweep's queue.
"""

from workers import run

if __name__ == "__main__":
    run("worker", "--maintenance")
