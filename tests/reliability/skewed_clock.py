"""Run a whisperops command on a host whose clock is off by OFFSET seconds.

    python -m tests.reliability.skewed_clock OFFSET -- python -m whisperops worker ...

The process's wall clock (``time.time`` and whisperops' own ``utcnow``, the one clock
the package reads) is shifted before whisperops is imported, as on a machine whose
clock drifted; monotonic time, which intervals use, is left alone, as it is there.
libfaketime would shift the C library's clock too, but it hangs Python's sleeps here.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta

import whisperops.clock as clock


def shift_clock(offset_sec: float) -> None:
    real_time, real_utcnow = time.time, clock.utcnow
    time.time = lambda: real_time() + offset_sec
    clock.utcnow = lambda: real_utcnow() + timedelta(seconds=offset_sec)


def main(argv: list[str]) -> None:
    offset, separator, *command = argv
    assert separator == "--" and command[1:3] == ["-m", "whisperops"], argv
    shift_clock(float(offset))
    from whisperops.cli import main as whisperops_main  # after the shift: bound to it

    whisperops_main(command[3:])


if __name__ == "__main__":
    main(sys.argv[1:])
