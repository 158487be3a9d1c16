#!/usr/bin/env bash
# Set up (with the test tools), then run ruff and the whole test suite.
# Uses Redis/PostgreSQL from the environment or on localhost when they answer;
# otherwise an embedded Valkey and SQLite only (PostgreSQL tests say they were skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest -ra "$@"
