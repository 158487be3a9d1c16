"""Run the real ``whisperops`` program in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_environment() -> dict[str, str]:
    """This process's environment without whisperops settings or service URLs."""
    return {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL"} and not key.startswith("WHISPEROPS_")
    }


def stack_environment(data_dir: Path, exporter_port: int, **settings: str) -> dict[str, str]:
    """Environment for `honcho start` on the embedded defaults in ``data_dir``."""
    env = clean_environment()
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "WHISPEROPS_DATA_DIR": str(data_dir),
            "WHISPEROPS_EXPORTER_PORT": str(exporter_port),
        }
    )
    env.update(settings)
    return env


def start_stack(env: dict[str, str], **popen) -> subprocess.Popen:
    """`honcho start` on the repository's Procfile, in a session of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "honcho", "start"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        **popen,
    )


def run_cli(
    env: dict[str, str],
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``whisperops ARGS`` with ``env``; ``prefix`` wraps the command (e.g. setpriv)."""
    full_env = clean_environment() | env
    return subprocess.run(
        [*prefix, sys.executable, "-m", "whisperops", *args],
        env=full_env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
