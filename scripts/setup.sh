#!/usr/bin/env bash
# Creates .venv (if needed) and installs azr with its test dependencies.
# Idempotent: re-runs pip only when pyproject.toml changed since the last set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.setup-stamp 2>/dev/null || true)" != "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    # The pinned CPU build of torch first, so that no dependency pulls a CUDA build.
    .venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -c "import azr, torch, transformers" 
    echo "$stamp" > .venv/.setup-stamp
fi
