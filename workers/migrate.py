"""Procfile ``migrate``: ``python -m workers.migrate [--to N]``.

Same as ``whisperops migrate``: applies pending database migrations (idempotent).
"""

from workers import run

if __name__ == "__main__":
    run("migrate")
