#!/usr/bin/env bash
# Sets everything up, then runs the default test suite (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export AZR_DATA_DIR=${AZR_DATA_DIR:-$(cd .. && pwd)/shared/data/benchmarks}
exec .venv/bin/python -m pytest -q "$@"
