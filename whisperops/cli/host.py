"""Commands about this host's setup: doctor, config, and the embedded Valkey."""

from __future__ import annotations

import sys

import click

from whisperops.cli.context import Context, pass_context
from whisperops.config import OPTION_NAMES, env_name
from whisperops.errors import ConfigError, WhisperopsError


def settings_origin(context: Context) -> str:
    source = f"config file {context.config_file} and " if context.config_file else ""
    return f"from {source}the environment; data dir {context.settings.data_dir}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_context
def doctor(context: Context, as_json: bool) -> None:
    """Check this host's environment: database (migrated, clock), Redis, workers,
    model, pyannote, folders, exporter port; the fix for each problem.

    Exits 0 when all is well, 1 when something needs fixing.
    """
    from whisperops.health.doctor import render, run_checks
    from whisperops.health.preflight import Check

    try:
        settings = context.settings
    except ConfigError as exc:  # nothing else can be checked without the settings
        checks = [Check("settings", False, str(exc), "fix that setting (see `whisperops config`)")]
    else:
        checks = [Check("settings", True, settings_origin(context)), *run_checks(settings)]
    click.echo(render(checks, as_json))
    if not all(check.ok for check in checks):
        sys.exit(1)


@click.command()
@click.argument("name", required=False)
@pass_context
def config(context: Context, name: str | None) -> None:
    """Show the effective settings (secrets masked) and the variables that set them.

    With NAME, print only that setting's value (e.g. `whisperops config data_dir`).
    """
    settings = context.settings
    shown = {}
    for key, value in settings.public_items():
        if isinstance(value, tuple):
            value = ",".join(str(item) for item in value)
        shown[key] = "" if value is None else str(value)
    if name is not None:
        if name not in OPTION_NAMES:
            raise WhisperopsError(
                f"unknown setting {name!r}; known settings: {', '.join(OPTION_NAMES)}"
            )
        click.echo(shown[name])
        return
    click.echo(f"# config file: {settings.config_file or 'none'}")
    for key in OPTION_NAMES:
        click.echo(f"{key} = {shown[key]}    # {env_name(key)}")


@click.group()
def valkey() -> None:
    """The embedded Valkey used when REDIS_URL is unset."""


@valkey.command(name="start")
@pass_context
def valkey_start(context: Context) -> None:
    """Start the embedded Valkey for this data dir (or reuse the running one)."""
    from whisperops.redis_server import ensure_embedded_valkey

    server = ensure_embedded_valkey(context.settings.data_dir)
    click.echo(f"embedded Valkey running: pid {server.pid}, {server.url}")


@valkey.command(name="run")
@pass_context
def valkey_run(context: Context) -> None:
    """Run the embedded Valkey in the foreground (the Procfile's `valkey` process).

    With REDIS_URL set, or when this data dir's Valkey is already running, it
    stays up without starting a server so the process manager keeps running.
    """
    import time

    from whisperops.redis_server import read_embedded, run_embedded_valkey_foreground

    settings = context.settings
    if settings.redis_url:
        click.echo(
            f"REDIS_URL is set ({settings.redis_url}); no embedded Valkey needed"  # masked
        )
        while True:
            time.sleep(3600)
    running = run_embedded_valkey_foreground(settings.data_dir)
    if running is None:
        return  # served until asked to stop
    click.echo(f"embedded Valkey already running: pid {running.pid}, {running.url}; waiting on it")
    while read_embedded(settings.data_dir) is not None:
        time.sleep(1)
    raise WhisperopsError(f"embedded Valkey pid {running.pid} stopped")


@valkey.command(name="stop")
@pass_context
def valkey_stop(context: Context) -> None:
    """Stop the embedded Valkey for this data dir."""
    from whisperops.redis_server import stop_embedded_valkey

    server = stop_embedded_valkey(context.settings.data_dir)
    click.echo(
        f"stopped embedded Valkey pid {server.pid}" if server else "no embedded Valkey was running"
    )


@valkey.command(name="url")
@pass_context
def valkey_url(context: Context) -> None:
    """Print the Redis URL the stack uses (e.g. for `rq info --url ...`)."""
    from whisperops.redis_server import redis_url

    click.echo(redis_url(context.settings))
