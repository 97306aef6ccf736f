#!/usr/bin/env bash
# Every CPU campaign that fills the shipped nb201 table, in the order they are run on this 2-core
# machine: one at a time (two campaigns slow each other, and latency is never measured beside
# another campaign). Every step resumes where it stopped, so re-running this script after an
# interruption (a session ends, Ctrl-C) continues with the first unfinished step.
#
#   bash scripts/campaigns.sh            # all steps
#   bash scripts/campaigns.sh tune-cifar10 compile-cifar10   # only these steps
#   hwbench campaign overview            # how far every campaign is
#
# Finished shards land under datasets/shards/ (commit them as they accumulate: only shard-*.json
# and campaign.json files); the tuning databases under datasets/tuning/; compiled libraries in
# ${HWBENCH_COMPILE_CACHE:-~/.cache/hwbench/compiled} (not committed). Rebuild the table with
# `hwbench build nb201` when a campaign is done.
set -euo pipefail
export OMP_NUM_THREADS=1
mkdir -p docs/data

run_step() {
  case "$1" in
    train)            hwbench campaign train --config fashion-mnist --workers 2 ;;
    tune-cifar10)     hwbench campaign tune --config cifar10 --trials 200 --trials-other 32 ;;
    tune-fmnist)      hwbench campaign tune --config fashion-mnist --trials 200 --trials-other 32 ;;
    compile-cifar10)  hwbench campaign compile --config cifar10 --database "$(ls -d datasets/tuning/cifar10-t* | head -1)" --workers 2 ;;
    measure-cifar10)  hwbench campaign measure --config cifar10 --database "$(ls -d datasets/tuning/cifar10-t* | head -1)" --workers 1 ;;
    compile-fmnist)   hwbench campaign compile --config fashion-mnist --database "$(ls -d datasets/tuning/fashion-mnist-t* | head -1)" --workers 2 ;;
    measure-fmnist)   hwbench campaign measure --config fashion-mnist --database "$(ls -d datasets/tuning/fashion-mnist-t* | head -1)" --workers 1 ;;
    ratios-cifar10)   hwbench measure --config cifar10 --sample 50 --frameworks tvm,torch,onnxruntime \
                        --database "$(ls -d datasets/tuning/cifar10-t* | head -1)" --format json > docs/data/ratios-cifar10.json ;;
    untuned-cifar10)  hwbench measure --config cifar10 --sample 50 --frameworks tvm --format json \
                        > docs/data/untuned-cifar10.json ;;   # the cells of ratios-cifar10 (same --seed), no database
    generic-cifar10)  hwbench measure --config cifar10 --sample 50 --frameworks tvm --target generic \
                        --database "$(ls -d datasets/tuning/cifar10-t* | head -1)" --format json \
                        > docs/data/generic-cifar10.json ;;   # same cells and schedules, LLVM without -mcpu=znver4
    repeat-cifar10)   hwbench measure --config cifar10 --sample 100 --seed 1 \
                        --database "$(ls -d datasets/tuning/cifar10-t* | head -1)" --format json > docs/data/repeat-cifar10.json ;;
    ratios-fmnist)    hwbench measure --config fashion-mnist --sample 50 --frameworks tvm,torch,onnxruntime \
                        --database "$(ls -d datasets/tuning/fashion-mnist-t* | head -1)" --format json > docs/data/ratios-fmnist.json ;;
    repeat-fmnist)    hwbench measure --config fashion-mnist --sample 100 --seed 1 \
                        --database "$(ls -d datasets/tuning/fashion-mnist-t* | head -1)" --format json > docs/data/repeat-fmnist.json ;;
    proxies-fmnist)   hwbench proxies compute --config fashion-mnist --workers 2 ;;
    proxies-cifar10)  hwbench proxies compute --config cifar10 --workers 2 ;;
    compress-small)   hwbench compress campaign --space mpq-prune-small --workers 2 ;;
    int8-tvm)         hwbench compress tvm-campaign --space mpq-prune-small ;;
    table-compress)   hwbench build compress --space mpq-prune-small ;;   # not a campaign: ~3 s once costs are cached
    *) echo "unknown step $1" >&2; return 2 ;;
  esac
}

# Order: the training (started first), then the two short campaigns that complete a table part on
# their own (compression space ~1 h wall, Fashion-MNIST proxies ~45 min wall), then the long TVM
# chain, one config to the end before the next (tuning ~2-3 h per config at 64 candidates per
# search round, measured 2026-11-25: one evolutionary round ~3.5 min; compile + measure ~3.6 h per
# config). The ratio report (50 cells, ~10 min) runs right after tuning: it says where tuned TVM
# stands against ONNX Runtime at 1 thread before 6,466 cells are compiled; the same 50 cells untuned
# (~5 min, after the compile phase, on a quiet machine) give the speed-up of tuning, and again with
# the generic target (same schedules) the effect of -mcpu=znver4. The cifar10 proxies last.
# A long chain is best run from a copy (cp scripts/campaigns.sh /tmp/c.sh; bash /tmp/c.sh ...):
# bash reads a script as it runs, so editing the file under a running chain breaks it.
STEPS=(train compress-small int8-tvm table-compress proxies-fmnist tune-cifar10 ratios-cifar10 compile-cifar10
       untuned-cifar10 generic-cifar10 measure-cifar10 repeat-cifar10 tune-fmnist ratios-fmnist
       compile-fmnist measure-fmnist repeat-fmnist proxies-cifar10)
if [ "$#" -gt 0 ]; then STEPS=("$@"); fi
for step in "${STEPS[@]}"; do
  echo "== $(date -u +%H:%M:%S) step $step"
  run_step "$step"
done
