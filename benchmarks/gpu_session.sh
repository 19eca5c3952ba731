#!/usr/bin/env bash
# One lent-GPU session's checks, as run through the device tool (see BENCHMARKS.md):
#   1. benchmarks/gpu.py       generation (dynamic vs static cache), update_step MFU, log-prob memory
#   2. benchmarks/gpu_selfplay.py  two self-play steps of a random-init Qwen2.5-Coder-0.5B
#   3. benchmarks/pretrain_sweep.py  azr-tiny corpus variants (corpora build on the CPUs while
#      1-2 run; training + measurement on the GPU after them)
# Results land in $OUT (default ./gpu-out). The first session ran round 1 of the sweep (base,
# seed1, p10k, p10k_212, p10k_314, p20k_111: see BENCHMARKS.md); this file holds round 2.
set -u
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
T0=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.get_device_name())"
rm -f /tmp/bench_done
timeout 420 python3 benchmarks/pretrain_sweep.py --out "$OUT/sweep.json" --wait-for /tmp/bench_done --workers 3 \
  --variant p10k_314s1="--n-programs 10000 --solve-episodes 3,1,4 --train-seed 1" \
  --variant p10k_316="--n-programs 10000 --solve-episodes 3,1,6" \
  --variant p10k_416="--n-programs 10000 --solve-episodes 4,1,6" \
  --variant p5k_314="--solve-episodes 3,1,4" \
  --variant p15k_315="--n-programs 15000 --solve-episodes 3,1,5" > "$OUT/sweep.log" 2>&1 &
SWEEP=$!
timeout 120 python3 benchmarks/gpu.py --models 0.5b --gen-batches 256 --sections ${GPU_SECTIONS:-generation,engine,training,logprobs} --out "$OUT/gpu.json" 2>&1 | grep -v Warning
echo "gpu.py done at $(( $(date +%s) - T0 )) s"
timeout 110 python3 benchmarks/gpu_selfplay.py --batch 16 --max-new-tokens 128 --json "$OUT/gpu_selfplay.json" 2>&1 | tail -8
echo "gpu_selfplay done at $(( $(date +%s) - T0 )) s"
touch /tmp/bench_done
wait $SWEEP
echo "sweep done at $(( $(date +%s) - T0 )) s"
tail -8 "$OUT/sweep.log"
tar czf "$OUT/sweep_logs.tar.gz" /tmp/azr-sweep/*/log.txt 2>/dev/null
