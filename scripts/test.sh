#!/usr/bin/env bash
# Set up (with the test tools and the diarization extra), then run ruff and the
# whole test suite.
# Uses Redis/PostgreSQL from the environment or on localhost when they answer;
# otherwise an embedded Valkey and SQLite only (PostgreSQL tests say they were skipped).
# WHISPEROPS_TEST_EXTRAS=dev skips the torch-based extra (several GB); its tests are
# then skipped and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "${WHISPEROPS_TEST_EXTRAS:-dev,diarization}"

.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest -ra --durations=15 "$@"
