"""Transcribe worker entry point: ``python -m workers.transcribe [--burst] [--name NAME]``.

Same as ``whisperops worker``; the worker itself lives in whisperops.worker.
"""

import sys

from whisperops.cli import main

if __name__ == "__main__":
    main(["worker", *sys.argv[1:]])
