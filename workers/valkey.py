"""Procfile ``valkey``: ``python -m workers.valkey``.

Same as ``whisperops valkey run``: the embedded Valkey in the foreground, or an idle
process when REDIS_URL is set.
"""

from workers import run

if __name__ == "__main__":
    run("valkey", "run")
