"""`whisperops worker` that SIGKILLs itself at one chosen point, once.

A command prefix for :class:`tests.reliability.harness.Workers`, as setpriv is::

    python -m tests.reliability.crashing_worker --at store_results:first-file \\
        --marker DIR/crashed -- python -m whisperops worker --name w1

The short steps last milliseconds, too little to land an outside SIGKILL in, so the
process kills itself: it wraps the step (or store_results' file writes) before the
real CLI runs. The crash happens only while ``--marker`` does not exist, and the
marker is created right before the kill, so the attempt after the recovery (in any
process given the same marker) runs normally. The product has no test hooks: the
wrapping replaces :data:`whisperops.pipeline.steps.PIPELINE`'s entry, which holds
the step functions themselves (patching a step module's function would not reach
it), and the ``os.replace`` that every output file goes through.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import signal
import sys
from pathlib import Path

from whisperops.models import Step

# Where the worker can be told to die: on entry of a step, or in store_results' files.
ON_ENTRY = tuple(f"{step.value}" for step in Step)
FIRST_FILE = "store_results:first-file"
"""Right after the first output file is renamed into place (the others are temp files)."""
BEFORE_RENAME = "store_results:before-rename"
"""Right before the second output file's rename: its temp file is written and synced."""
CRASH_POINTS = (*ON_ENTRY, FIRST_FILE, BEFORE_RENAME)


def die_once(marker: Path) -> None:
    """SIGKILL this process, unless it (or an earlier process) already did."""
    if marker.exists():
        return
    marker.write_text(f"killed pid {os.getpid()}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def crash_on_entry(step: Step, marker: Path, resuming: bool) -> None:
    """Replace the step's entry in the pipeline table with one that dies first."""
    import whisperops.pipeline.job as job
    import whisperops.pipeline.steps as steps

    def wrap(run):
        @functools.wraps(run)
        def dying(state):
            if not resuming or state.recording.resume_from_step:
                die_once(marker)
            return run(state)

        return dying

    table = tuple(
        dataclasses.replace(spec, run=wrap(spec.run)) if spec.step == step else spec
        for spec in steps.PIPELINE
    )
    steps.PIPELINE = job.PIPELINE = table  # job.py imported the tuple by name


def crash_in_output_files(point: str, marker: Path, output_dir: Path) -> None:
    """Die at the n-th rename of a file into ``output_dir`` (each output is a temp file
    renamed over its final name): after the 1st (FIRST_FILE) or instead of the 2nd."""
    real_replace = os.replace
    renames = 0

    def replace(src, dst, *args, **kwargs):
        nonlocal renames
        if Path(dst).parent.resolve() != output_dir:
            return real_replace(src, dst, *args, **kwargs)
        renames += 1
        if point == BEFORE_RENAME and renames == 2:
            die_once(marker)
        real_replace(src, dst, *args, **kwargs)
        if point == FIRST_FILE and renames == 1:
            die_once(marker)

    os.replace = replace


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="crashing_worker")
    parser.add_argument("--at", choices=CRASH_POINTS, required=True)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument(
        "--resuming", action="store_true", help="only in a resumed job (a re-diarization)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if command[1:3] != ["-m", "whisperops"]:
        parser.error(f"expected `python -m whisperops ...` after --, got {command}")
    if options.at in ON_ENTRY:
        crash_on_entry(Step(options.at), options.marker, options.resuming)
    else:
        from whisperops.config import load_settings

        output_dir = load_settings().output_dir.resolve()
        crash_in_output_files(options.at, options.marker, output_dir)
    from whisperops.cli import main as whisperops_main

    sys.argv = ["whisperops", *command[3:]]
    whisperops_main(command[3:])


if __name__ == "__main__":
    main(sys.argv[1:])
