"""The worker layout: measured once per host and model, cached, re-used, bounded by memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.cli_runner import run_cli
from whisperops.config import Settings
from whisperops.pipeline.transcriber import usable_cores
from whisperops.worker import layout

AUTO = {
    "WHISPEROPS_WORKER_PROCESSES": "auto",
    "WHISPEROPS_CPU_THREADS": "auto",
    "WHISPEROPS_BATCH_SIZE": "auto",
}


def auto(settings: Settings, **changes) -> Settings:
    return settings.replace(
        worker_processes="auto", cpu_threads="auto", batch_size="auto", **changes
    )


def refuse_to_calibrate(*_args, **_kwargs):
    raise AssertionError("calibrated again although a result for this host and model is cached")


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """`whisperops calibrate` run once: the environment it ran in and what it printed."""
    environ = {"WHISPEROPS_DATA_DIR": str(tmp_path_factory.mktemp("calibrated") / "data")}
    result = run_cli(environ | AUTO, "calibrate", timeout=300)
    assert result.returncode == 0, result.stderr
    return environ, result.stdout


def test_calibrate_measures_each_thread_layout_and_caches_the_choice(calibrated) -> None:
    environ, printed = calibrated
    cache = json.loads((Path(environ["WHISPEROPS_DATA_DIR"]) / "calibration.json").read_text())
    (key, entry), *others = cache.items()
    assert not others
    assert key.endswith(f"|cpu|int8|beam 5|{usable_cores()} cores")
    threads = [row["threads"] for row in entry["candidates"]]
    assert threads[0] == 1 and threads[-1] == usable_cores()
    assert entry["cpu_threads"] in threads and entry["batch_size"] in (0, 4, 8, 16)
    assert all(row["sequential"] > 0 and row["batched"] > 0 for row in entry["candidates"])
    assert entry["pace"]["sequential"] > 0 and entry["process_memory_mb"] > 50
    assert "speech-s/s sequential" in printed
    assert printed.strip().splitlines()[-1].startswith("chosen: ")


def test_auto_settings_reuse_the_cached_calibration(
    calibrated, settings: Settings, monkeypatch
) -> None:
    environ, _ = calibrated
    settings = auto(settings, data_dir=Path(environ["WHISPEROPS_DATA_DIR"]))
    monkeypatch.setattr(layout, "calibrate", refuse_to_calibrate)
    chosen = layout.resolve_layout(settings)
    entry = next(iter(json.loads((settings.data_dir / "calibration.json").read_text()).values()))
    assert (chosen.cpu_threads, chosen.batch_size) == (entry["cpu_threads"], entry["batch_size"])
    assert 1 <= chosen.processes <= usable_cores() // chosen.cpu_threads
    assert chosen.replicas == usable_cores() // chosen.cpu_threads
    assert entry["measured_at"] in chosen.reason

    # Another model setting is another key: that one would be measured.
    with pytest.raises(AssertionError, match="calibrated again"):
        layout.resolve_layout(settings.replace(beam_size=2))


def test_memory_bounds_the_processes(calibrated, settings: Settings, monkeypatch) -> None:
    environ, _ = calibrated
    settings = auto(settings, data_dir=Path(environ["WHISPEROPS_DATA_DIR"]))
    entry = next(iter(json.loads((settings.data_dir / "calibration.json").read_text()).values()))
    monkeypatch.setattr(layout, "calibrate", refuse_to_calibrate)
    # Room for one process and a half: one process, whatever the cores would allow.
    room = entry["process_memory_mb"] * 1.5 / layout.MEMORY_SHARE
    monkeypatch.setattr(layout, "available_memory_mb", lambda: room)
    chosen = layout.resolve_layout(settings)
    assert chosen.processes == 1
    assert "1 by memory" in chosen.reason


def test_the_worker_logs_the_layout_it_took_from_the_cache(
    calibrated, environ, migrated_db, redis_url: str
) -> None:
    calibrated_env, _ = calibrated
    env = environ | calibrated_env | AUTO | {"REDIS_URL": redis_url}
    result = run_cli(env, "worker", "--burst", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Calibrating" not in result.stderr
    line = next(line for line in result.stderr.splitlines() if "Worker layout: " in line)
    assert " process(es) x " in line and "(calibrated " in line


def test_explicit_settings_are_kept_without_calibrating(settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr(layout, "calibrate", refuse_to_calibrate)
    chosen = layout.resolve_layout(
        settings.replace(worker_processes=3, cpu_threads=1, batch_size=4)
    )
    assert (chosen.processes, chosen.cpu_threads, chosen.batch_size) == (3, 1, 4)
    assert chosen.replicas == usable_cores() and chosen.reason == "set explicitly"


def test_cuda_takes_one_process_float16_and_batch_16_without_calibrating(
    settings: Settings, monkeypatch
) -> None:
    monkeypatch.setattr(layout, "calibrate", refuse_to_calibrate)
    chosen = layout.resolve_layout(auto(settings, device="cuda", compute_type="auto"))
    assert (chosen.processes, chosen.batch_size, chosen.compute_type) == (1, 16, "float16")
    assert chosen.replicas == 1


def test_worker_processes_must_be_auto_or_a_positive_integer(environ) -> None:
    result = run_cli(environ | {"WHISPEROPS_WORKER_PROCESSES": "many"}, "worker", "--burst")
    assert result.returncode != 0
    assert (
        "bad setting WHISPEROPS_WORKER_PROCESSES (environment) = 'many': "
        "expected 'auto' or an integer >= 1"
    ) in result.stderr
