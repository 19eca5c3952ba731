#!/usr/bin/env bash
# The README's main job: set up .venv, run a few tiny self-play steps on the CPU into
# runs/demo (replacing a previous demo run there), then write its report.
# Extra arguments go to `azr train`, e.g.  bash scripts/demo.sh --steps 3
# Without arguments: 20 steps at lr 1e-4 (tiny.yaml's 1e-5 moves nothing measurable in a demo's
# length; at 1e-4 proposal validity rises beyond its noise within 20-25 steps, see BENCHMARKS.md
# "Toy-scale study"). The run's summary.md says, metric by metric, whether it moved beyond noise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Benchmark data (read-only): $AZR_DATA_DIR, else the project's shared copy when it exists.
if [ -z "${AZR_DATA_DIR:-}" ] && [ -d ../shared/data/benchmarks ]; then
    export AZR_DATA_DIR="$(cd ../shared/data/benchmarks && pwd)"
fi
RUN=${AZR_DEMO_RUN:-runs/demo}
if [ -d "$RUN" ]; then
    echo "== removing the previous demo run in $RUN"
    rm -rf "$RUN"
fi
if [ "$#" -eq 0 ]; then
    set -- --steps 20 --set optim.lr=1.0e-4
fi
echo "== azr train --preset tiny --run-dir $RUN $*"
.venv/bin/azr train --preset tiny --run-dir "$RUN" "$@"
if .venv/bin/azr report --help >/dev/null 2>&1; then
    .venv/bin/azr report "$RUN"
    for f in "$RUN"/report/index.html "$RUN"/report/report.md "$RUN"/report.md "$RUN"/report.html; do
        if [ -f "$f" ]; then echo "report: $f"; break; fi
    done
else
    echo "(azr report is not available yet; metrics are in $RUN/metrics.jsonl)"
fi
# What the run shows, change against noise (first vs last quarter of steps, 95% intervals).
.venv/bin/python -c "import sys; from azr.study.report import run_summary; print(run_summary(sys.argv[1]))" "$RUN" \
    | tee "$RUN/summary.md"
echo "summary: $RUN/summary.md"
echo "run directory: $RUN"
