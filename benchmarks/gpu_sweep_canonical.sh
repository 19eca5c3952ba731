#!/usr/bin/env bash
# One lent-GPU call: azr-tiny corpus sweep, round 3 (canonical induction answers) or, with ROUND=4,
# round 4 (the deduction/induction balance at 5,000 programs); see BENCHMARKS.md.
# Corpora build on the machine's CPUs in parallel, then each variant trains 6.36M tokens on the GPU
# (the shipped model's CPU budget; the wider model gets the steps its CPU throughput allows) and is
# measured with 512 samples per group. Results: $OUT/sweep.json (written after each variant).
set -u
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)"
if [ "${ROUND:-3}" = 4 ]; then  # round 4: deduction vs induction at 5,000 programs
  VARIANTS=(--variant c5k_314_s1="--n-programs 5000 --solve-episodes 3,1,4 --train-seed 1"
            --variant c5k_414="--n-programs 5000 --solve-episodes 4,1,4"
            --variant c5k_414_s1="--n-programs 5000 --solve-episodes 4,1,4 --train-seed 1"
            --variant c5k_313="--n-programs 5000 --solve-episodes 3,1,3"
            --variant c5k_413="--n-programs 5000 --solve-episodes 4,1,3")
else
  VARIANTS=(--variant gen_312="--induction-answers generated"
            --variant can_312=""
            --variant can_10k_314="--n-programs 10000 --solve-episodes 3,1,4"
            --variant can_10k_314_s1="--n-programs 10000 --solve-episodes 3,1,4 --train-seed 1"
            --variant can_314="--solve-episodes 3,1,4"
            --variant can_10k_314_w256="--n-programs 10000 --solve-episodes 3,1,4 --hidden-size 256 --intermediate-size 768 --max-steps 1860")
fi
timeout ${SWEEP_TIMEOUT:-500} python3 benchmarks/pretrain_sweep.py --out "$OUT/sweep.json" --workers 2 \
  --measure-n 512 --measure-batch 512 "${VARIANTS[@]}" \
  > "$OUT/sweep.log" 2>&1
echo "sweep rc=$?"
tail -8 "$OUT/sweep.log"
tar czf "$OUT/sweep_logs.tar.gz" /tmp/azr-sweep/*/log.txt 2>/dev/null
