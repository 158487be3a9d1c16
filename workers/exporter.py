"""Procfile ``exporter``: ``python -m workers.exporter [--host H] [--port P]``.

Same as ``whisperops exporter``: Prometheus metrics read from the DB and RQ.
"""

from workers import run

if __name__ == "__main__":
    run("exporter")
