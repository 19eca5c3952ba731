#!/usr/bin/env bash
# Issue 19's sweep of the tiny self-play settings (BENCHMARKS.md "Toy-scale study"): self-play
# only, the tiny study's evaluation (48 problems x 8 samples per generator benchmark), one
# `azr study` folder per setting under runs/sweep; two at a time on 2 cores, one thread each.
# The base model's evaluation is made once per seed and copied (same settings, so skipped).
# Then: .venv/bin/python benchmarks/study_sweep.py runs/sweep/S*
set -uo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
S=${SWEEP_DIR:-runs/sweep}
mkdir -p "$S"
# tiny.study.yaml's own solver settings are overridden back to tiny.yaml's for the 4-task arms
FOUR="--set selfplay.solve_batch=4 --set optim.ppo_mini_batch=8"
TWELVE="--set selfplay.solve_batch=12 --set optim.ppo_mini_batch=16"
COMMON="--preset tiny --arms selfplay --eval-n 8 --difficulty-questions 0 --no-html --jobs 1"
study() { .venv/bin/python -m azr study $COMMON --out "$S/$1" "${@:2}" > "$S/$1.log" 2>&1; echo "$1 rc=$? $(date +%T)"; }
copy_base() {  # copy_base FROM TO: wait for FROM's base evaluation, copy it to TO
    while [ "$(ls "$S/$1"/base/eval/*/summary.json 2>/dev/null | wc -l)" -lt 3 ]; do sleep 10; done
    mkdir -p "$S/$2/base"; cp -r "$S/$1/base/eval" "$S/$2/base/"
}
( study S0 --steps 40 $FOUR                               # tiny.yaml's groups of 4 solver tasks
  study S2 --steps 40 $FOUR --set optim.lr=3e-4           # 3x the learning rate
  study S4 --steps 60 $FOUR ) &                           # groups of 4 for the wall time of S1
( for t in S1 S2 S3 S4; do copy_base S0 $t; done
  study S1 --steps 40 $TWELVE                             # groups of 12
  study S3 --steps 40 $TWELVE --set optim.lr=3e-4
  study S1s1 --steps 40 --seed 1 $TWELVE                  # the second seed of S1 and S0
  copy_base S1s1 S0s1
  study S0s1 --steps 40 --seed 1 $FOUR ) &
wait
