#!/usr/bin/env bash
# The coder presets on a lent GPU (issue 20), as one command through the device tool:
#   0. the planner's numbers for the card (python -m azr.plan)
#   1. benchmarks/gpu_7b.py --sections selfplay   one self-play step of a random-init
#      Qwen2.5-Coder-3B at the coder3b prompt counts (budget 1,024 tokens)
#   2. benchmarks/gpu_7b.py --sections update7b   one 7B update step, FSDP2 + CPU offload
# Each section is its own process (a failure or an OOM in one leaves the other's numbers).
# Results land in $OUT (default ./gpu-out). CPU dry run of the same logic:
#   GPU7B_ARGS=--tiny PYTHON=.venv/bin/python bash benchmarks/gpu_7b_session.sh
set -u
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
ARGS=${GPU7B_ARGS:-}
PY=${PYTHON:-python3}
T0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
$PY -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')"
MEM=$($PY -c "import torch; print(int(torch.cuda.get_device_properties(0).total_memory / 2**30) if torch.cuda.is_available() else 80)")
$PY -m azr.plan --preset coder3b --gpu-mem "$MEM" --prompt-tokens 4096 --set rollout.max_new_tokens=1024 > "$OUT/plan_coder3b.txt" 2>&1
$PY -m azr.plan --preset coder7b --gpu-mem "$MEM" > "$OUT/plan_coder7b.txt" 2>&1
tail -7 "$OUT/plan_coder3b.txt"
timeout ${SELFPLAY_TIMEOUT:-330} $PY benchmarks/gpu_7b.py $ARGS --sections selfplay --out "$OUT/gpu_7b_selfplay.json" \
  > "$OUT/gpu_7b_selfplay.log" 2>&1
echo "selfplay rc=$? at $(( $(date +%s) - T0 )) s"; grep -v "Warning\|warn" "$OUT/gpu_7b_selfplay.log" | tail -12
timeout ${UPDATE_TIMEOUT:-200} $PY benchmarks/gpu_7b.py $ARGS --sections update7b --out "$OUT/gpu_7b_update.json" \
  > "$OUT/gpu_7b_update.log" 2>&1
echo "update7b rc=$? at $(( $(date +%s) - T0 )) s"; grep -v "Warning\|warn" "$OUT/gpu_7b_update.log" | tail -6
