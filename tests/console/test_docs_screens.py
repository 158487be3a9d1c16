"""The screenshots in docs/screens/ are the console as its snapshot tests see it."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "docs_screens.py"
COPIES = runpy.run_path(str(SCRIPT))
SCREENS: Path = COPIES["SCREENS"]
SNAPSHOTS: Path = COPIES["SNAPSHOTS"]


@pytest.mark.parametrize("name", sorted(COPIES["COPIES"]))
def test_docs_screen_is_the_current_snapshot(name: str) -> None:
    snapshot = SNAPSHOTS / COPIES["COPIES"][name]
    assert snapshot.exists(), f"{snapshot} is gone: update scripts/docs_screens.py"
    assert (SCREENS / name).read_bytes() == snapshot.read_bytes(), (
        f"docs/screens/{name} is older than its snapshot: run python scripts/docs_screens.py"
    )


def test_readme_shows_every_screen() -> None:
    readme = (SCREENS.parents[1] / "README.md").read_text()
    missing = [name for name in COPIES["COPIES"] if f"docs/screens/{name}" not in readme]
    assert not missing, f"README.md does not link {missing}"
