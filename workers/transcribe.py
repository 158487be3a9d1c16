"""Procfile ``worker``: ``python -m workers.transcribe [--burst] [--processes N|auto]``.

Same as ``whisperops worker``: the transcribe workers, in the calibrated layout.
"""

from workers import run

if __name__ == "__main__":
    run("worker")
