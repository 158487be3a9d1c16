"""Two `whisperops scheduler` processes started by mistake: still one sweep per
interval, and when the one enqueuing the sweep is SIGKILLed the other goes on."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from tests.conftest import ON_SQLITE
from tests.reliability.harness import SweepProcesses, Valkey, wait_until, worker_env
from whisperops.config import Settings

INTERVAL = 2
SWEEPS_PER_PHASE = 8


@ON_SQLITE
def test_two_schedulers_sweep_once_per_interval_and_one_takes_over(
    settings: Settings, migrated_db, own_valkey: Valkey, tmp_path: Path
) -> None:
    settings = settings.replace(redis_url=own_valkey.url)
    sweep = SweepProcesses(worker_env(settings), tmp_path / "logs", interval=INTERVAL)
    # rq-scheduler's own lock (`rq:scheduler_lock`, held only while it enqueues) expires
    # interval + 10 s after a scheduler SIGKILLed while holding it; then the other one
    # finds the sweep due within the usual gap.
    takeover_bound = INTERVAL + 10 + sweep.longest_gap_sec

    def sweeps_after(moment: float) -> int:
        return sum(t > moment for t in sweep.sweeps_ran())

    phase_sec = SWEEPS_PER_PHASE * sweep.longest_gap_sec + 30
    try:
        sweep.start()
        both = time.time()  # the second one's start adds a sweep the lock may skip
        sweep.start_scheduler("scheduler-2")
        wait_until(lambda: "Registering birth" in sweep.log("scheduler-2"), 60, "scheduler-2")
        wait_until(lambda: sweeps_after(both) >= SWEEPS_PER_PHASE, phase_sec, "sweeps with two")
        victim = sweep.last_to_enqueue()
        killed = time.time()
        sweep.kill(victim)
        takeover = sweep.wait_for_sweep(killed, takeover_bound, "a sweep after the kill") - killed
        wait_until(lambda: sweeps_after(killed) >= SWEEPS_PER_PHASE, phase_sec, "sweeps with one")
        end = time.time()
        (survivor,) = sweep.schedulers()
        assert sweep.alive() == [SweepProcesses.MAINTENANCE, survivor]
        assert sweep.last_to_enqueue() == survivor
    finally:
        sweep.stop_all()

    ran = sweep.assert_once_per_interval(both, end, faults=[(killed, killed + takeover)])
    skipped = [t for t in sweep.sweeps_skipped() if both <= t <= end]
    gaps = [b - a for a, b in itertools.pairwise(ran)]
    print(
        f"two schedulers, sweep every {INTERVAL}s: {len(ran)} sweeps ran and {len(skipped)} "
        f"skipped in {end - both:.0f}s ({(end - both) / INTERVAL:.1f} intervals), gaps "
        f"{min(gaps):.1f}-{max(gaps):.1f}s; {victim} SIGKILLed, the other's first sweep "
        f"{takeover:.1f}s later"
    )
    assert takeover <= takeover_bound
    for name in (survivor, SweepProcesses.MAINTENANCE):
        assert "Traceback" not in sweep.log(name)
