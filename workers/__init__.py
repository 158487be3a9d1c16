"""The Procfile's processes, one module each: ``python -m workers.<module>``.

Each module only names the `whisperops` command its process runs and passes its own
arguments on; options, checks and the work itself live in the whisperops package,
where the tests reach them. workers/ is not installed with the package (only
`whisperops` is): run these from the repository root, as `honcho start` does.
"""

from __future__ import annotations

import sys

from whisperops.cli import main


def run(*command: str) -> None:
    """Run ``whisperops COMMAND... ARGS``, ARGS being this process's own arguments."""
    main([*command, *sys.argv[1:]])
