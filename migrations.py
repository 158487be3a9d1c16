"""Apply pending database migrations: ``python migrations.py`` (same as ``whisperops migrate``)."""

from whisperops.cli import main

if __name__ == "__main__":
    main(["migrate"])
