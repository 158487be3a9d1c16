"""Copy the console's snapshot SVGs into docs/screens/, the screenshots the README shows.

Run after `pytest tests/console --snapshot-update`:
    python scripts/docs_screens.py
tests/console/test_docs_screens.py fails while a copy differs from its snapshot.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "tests" / "console" / "__snapshots__"
SCREENS = ROOT / "docs" / "screens"

COPIES = {
    "main.svg": "test_snapshots/test_main_screen[160x48].svg",
    "main-80x24.svg": "test_snapshots/test_main_screen[80x24].svg",
    "detail.svg": "test_snapshots/test_detail_screen[160x48].svg",
    "workers.svg": "test_workers_screen/test_workers_screen[160x48].svg",
    "workers-80x24.svg": "test_workers_screen/test_workers_screen[80x24].svg",
    "stats.svg": "test_stats_screen/test_stats_screen_snapshot[160x48].svg",
    "stats-80x24.svg": "test_stats_screen/test_stats_screen_snapshot[80x24].svg",
    "marks-and-stuck-soon.svg": (
        "test_bulk/test_main_screen_with_marks_and_a_stuck_soon_row[160x48].svg"
    ),
    "paused-bulk-requeue-80x24.svg": (
        "test_intake_key/test_paused_console_asking_to_requeue_marked_rows[80x24].svg"
    ),
}
"""docs/screens/ name -> snapshot it is a copy of."""


def main() -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    for name, snapshot in COPIES.items():
        shutil.copyfile(SNAPSHOTS / snapshot, SCREENS / name)
        print(f"docs/screens/{name} <- {snapshot}")


if __name__ == "__main__":
    main()
