#!/usr/bin/env bash
# Sets everything up, then runs the default test suite (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Benchmark data (read-only): $AZR_DATA_DIR, else the project's shared copy when it exists.
if [ -z "${AZR_DATA_DIR:-}" ] && [ -d ../shared/data/benchmarks ]; then
    export AZR_DATA_DIR="$(cd ../shared/data/benchmarks && pwd)"
fi
exec .venv/bin/python -m pytest -q "$@"
