"""Procfile ``scheduler``: ``python -m workers.scheduler [--burst]``.

Same as ``whisperops scheduler``: puts the sweep on the maintenance queue every
sweep_interval_sec.
"""

from workers import run

if __name__ == "__main__":
    run("scheduler")
