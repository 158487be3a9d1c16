"""The ``whisperops`` command line: the group, its commands (one module per kind), and
:func:`main`, which turns environment and operator errors into one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from whisperops import __version__
from whisperops.cli import fleet, host, intake, overview, processes, recordings
from whisperops.cli.context import Context
from whisperops.config import without_secrets
from whisperops.health.service_errors import explain


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="WHISPEROPS_CONFIG",
    help="TOML config file (env: WHISPEROPS_CONFIG). Environment variables override it.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="On an error, also show the traceback (for a bug report); "
    "WHISPEROPS_LOG_LEVEL=debug does the same.",
)
@click.version_option(__version__, prog_name="whisperops")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """whisperops: transcribe folders of audio recordings, and see every step.

    Settings come from the environment (DATABASE_URL, REDIS_URL, WHISPEROPS_*)
    and an optional TOML file; `whisperops config` shows them.
    """
    ctx.obj = Context(config_file, debug=debug)


for command in (
    recordings.add,
    recordings.list_command,
    recordings.show,
    recordings.requeue,
    recordings.fail,
    recordings.rediarize,
    recordings.enqueue,
    recordings.sweep,
    intake.pause,
    intake.resume,
    fleet.workers,
    processes.migrate,
    processes.worker,
    processes.calibrate,
    processes.console,
    processes.exporter,
    processes.watch,
    processes.scheduler,
    host.doctor,
    host.config,
    host.valkey,
    overview.status,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: operator errors become one line, not a traceback."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="whisperops",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        context = Context.current
        settings = context.loaded_settings if context else None
        found = explain(exc, settings)
        if found is None:
            raise  # a bug: the traceback is what a report needs
        if (context and context.debug) or (settings and settings.log_level == "DEBUG"):
            import traceback

            shown = "".join(traceback.format_exception(exc))
            click.echo(without_secrets(shown, settings) if settings else shown, err=True)
        click.echo(f"whisperops: error: {found}", err=True)
        sys.exit(found.exit_code)
