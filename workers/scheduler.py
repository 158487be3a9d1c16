"""Scheduler entry point: ``python -m workers.scheduler``; same as ``whisperops scheduler``."""

import sys

from whisperops.cli import main

if __name__ == "__main__":
    main(["scheduler", *sys.argv[1:]])
