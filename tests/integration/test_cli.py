"""The CLI as a subprocess: exit codes, stdout/stderr, JSON shapes."""

import json
import subprocess
import sys
from pathlib import Path

from tests.audio import write_tone_wav
from tests.integration.cli_runner import ROOT, run_cli


def test_migrate_then_add_list_show(environ: dict[str, str], audio_dir: Path) -> None:
    migrate = run_cli(environ, "migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "applied 0001_initial" in migrate.stdout
    assert "applied 0002_add_processing_step_to_recordings" in migrate.stdout

    again = subprocess.run(
        [sys.executable, "-m", "workers.migrate"],  # the Procfile's `migrate`
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, **environ},
    )
    assert again.returncode == 0, again.stderr
    assert "database is up to date" in again.stdout

    (audio_dir / "readme.txt").write_text("x")
    added = run_cli(environ, "add", str(audio_dir))
    assert added.returncode == 0, added.stderr
    assert "added    #1" in added.stdout
    assert "readme.txt: not an audio file extension (.txt)" in added.stdout
    assert "2 added, 1 skipped, 0 errors" in added.stdout

    listed = run_cli(environ, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)
    assert {item["file_name"] for item in items} == {"call one.wav", "call-two.wav"}
    assert all(item["status"] == "queued" for item in items)
    assert all("processing_step" in item and item["processing_step"] is None for item in items)

    table = run_cli(environ, "list", "--status", "queued")
    assert "call one.wav" in table.stdout and "STATUS" in table.stdout

    shown = run_cli(environ, "show", "1", "--json")
    detail = json.loads(shown.stdout)
    assert detail["id"] == 1
    assert detail["file_path"].endswith("call one.wav")
    assert detail["processing_step_started_at"] is None
    assert detail["steps"] == [] and detail["transcript"] is None

    human = run_cli(environ, "show", "1")
    assert human.returncode == 0
    assert "Recording #1  call one.wav" in human.stdout


def test_requeue_and_fail_from_cli(environ: dict[str, str], audio_dir: Path) -> None:
    run_cli(environ, "migrate")
    run_cli(environ, "add", str(audio_dir / "call one.wav"))

    failed = run_cli(environ, "fail", "1", "--reason", "wrong customer")
    assert failed.returncode == 0, failed.stderr
    assert "Failed by operator: wrong customer" in failed.stdout
    assert json.loads(run_cli(environ, "show", "1", "--json").stdout)["status"] == "failed"

    requeued = run_cli(environ, "requeue", "1")
    assert requeued.returncode == 0, requeued.stderr
    assert "requeued #1" in requeued.stdout
    detail = json.loads(run_cli(environ, "show", "1", "--json").stdout)
    assert detail["status"] == "queued" and detail["error_message"] is None

    again = run_cli(environ, "requeue", "1")
    assert again.returncode == 1
    assert again.stderr.strip() == "whisperops: error: recording #1 is already queued"


def test_operator_mistakes_get_one_line_and_nonzero_exit(
    environ: dict[str, str], tmp_path: Path
) -> None:
    run_cli(environ, "migrate")

    unknown = run_cli(environ, "show", "42")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "whisperops: error: no recording with id 42"
    assert unknown.stdout == ""

    bad_status = run_cli(environ, "list", "--status", "stuck")
    assert bad_status.returncode == 2
    assert "'stuck' is not one of 'queued', 'processing', 'done', 'failed'" in bad_status.stderr

    missing = run_cli(environ, "add", str(tmp_path / "nope.wav"))
    assert missing.returncode == 1
    assert "nope.wav: no such file or folder" in missing.stderr

    no_reason = run_cli(environ, "fail", "1")
    assert no_reason.returncode == 2
    assert "Missing option '--reason'" in no_reason.stderr


def test_bad_setting_fails_at_start_with_one_line(environ: dict[str, str]) -> None:
    result = run_cli({**environ, "WHISPEROPS_SWEEP_INTERVAL_SEC": "0"}, "list")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "whisperops: error: bad setting WHISPEROPS_SWEEP_INTERVAL_SEC (environment) = '0': "
        "expected an integer >= 1"
    )


def test_unmigrated_database_says_what_to_do(environ: dict[str, str]) -> None:
    result = run_cli(environ, "list")
    assert result.returncode == 1
    assert "run `whisperops migrate`" in result.stderr


def test_config_command_masks_secrets(environ: dict[str, str], postgres_url: str) -> None:
    secret_url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:pw-123@")
    shown = run_cli(
        {**environ, "DATABASE_URL": secret_url, "REDIS_URL": "redis://:redis-pw@127.0.0.1:6379/0"},
        "config",
    )
    assert shown.returncode == 0, shown.stderr
    assert "pw-123" not in shown.stdout and "redis-pw" not in shown.stdout
    assert "postgresql://postgres:***@" in shown.stdout
    assert "redis_url = redis://:***@127.0.0.1:6379/0    # REDIS_URL" in shown.stdout


def test_file_names_are_printed_literally(environ: dict[str, str], tmp_path: Path) -> None:
    run_cli(environ, "migrate")
    odd = tmp_path / "[bold]x[red]\x1b[31m.wav"
    write_tone_wav(odd, frequency=500)
    added = run_cli(environ, "add", str(odd))
    assert added.returncode == 0, added.stderr
    assert "\x1b" not in added.stdout
    assert "[bold]x[red]\\x1b[31m.wav" in added.stdout
    listed = run_cli(environ, "list")
    assert "[bold]x[red]\\x1b[31m.wav" in listed.stdout


def test_python_dash_m_and_help(environ: dict[str, str]) -> None:
    result = run_cli(environ, "--help")
    assert result.returncode == 0
    for command in ("migrate", "add", "list", "show", "requeue", "fail", "config", "valkey"):
        assert command in result.stdout


def test_config_prints_one_setting(environ: dict[str, str]) -> None:
    shown = run_cli(environ, "config", "data_dir")
    assert shown.stdout.strip() == environ["WHISPEROPS_DATA_DIR"]
    unknown = run_cli(environ, "config", "nope")
    assert unknown.returncode == 1
    assert "unknown setting 'nope'" in unknown.stderr
