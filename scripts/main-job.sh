#!/usr/bin/env bash
# The README's main job on the shipped data: a real query, then a real search scored from the table.
#   pip install -e . && bash scripts/main-job.sh
# Writes its results under ${HWBENCH_MAIN_OUT:-./main-job-out}.
set -euo pipefail
OUT="${HWBENCH_MAIN_OUT:-./main-job-out}"
mkdir -p "$OUT"
TASK="${HWBENCH_MAIN_TASK:-nb201-fmnist-train-mcu-stm32f746-constrained}"
# the best cell of the Fashion-MNIST campaign is |nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|; query another one
CELL='|nor_conv_3x3~0|+|skip_connect~0|none~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'

echo "== the shipped table"
hwbench info

echo "== query one cell: analytic counts, simulated STM32F746 cost, own Fashion-MNIST accuracy"
hwbench query "$CELL" -m 'fashion-mnist/model/*' -m 'fashion-mnist/mcu-stm32f746/latency_ms' \
    -m 'fashion-mnist/mcu-stm32f746/peak_sram_bytes' -m 'fashion-mnist/train/test_accuracy_pct'

echo "== the task"
hwbench tasks show "$TASK"

echo "== search: regularized evolution and random search, 10 seeds each, scored from the table"
hwbench run --task "$TASK" --algorithm regularized-evolution --seeds 10 --out "$OUT/re.json" --no-progress
hwbench run --task "$TASK" --algorithm random --seeds 10 --out "$OUT/random.json" --no-progress
echo "== re-scored from the table (scores in the files are ignored)"
hwbench score "$OUT/re.json"
hwbench score "$OUT/random.json"
