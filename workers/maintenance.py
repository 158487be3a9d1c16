"""Maintenance worker entry point: ``python -m workers.maintenance [--burst]``.

Same as ``whisperops worker --maintenance``: serves only the sweep's queue.
"""

import sys

from whisperops.cli import main

if __name__ == "__main__":
    main(["worker", "--maintenance", *sys.argv[1:]])
