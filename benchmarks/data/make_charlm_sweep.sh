#!/bin/bash
# Regenerate benchmarks/data/charlm_cooldown_sweep.csv (issue 12's cooldown-sweep protocol, bench_laws.py).
# lrkit's charlm workload, AdamW, peak LRs 3e-3 and 1e-2, seeds 0 and 1, validation loss every 10 steps:
#   pilots  constant(warmup=30) to 600 steps (cut at 300 by the benchmark) and cosine(warmup=30) of 150 and 300 steps;
#   targets wsd(warmup=30, decay=f, form=linear|1-sqrt), f in 0.1 0.2 0.4 0.6 0.8, at 300 and 600 steps.
# About 100 trials, ~30 min on 2 idle cores (trials already in DB are kept: rerun to resume).
#   usage: benchmarks/data/make_charlm_sweep.sh [DB]     (from the repository root)
set -e
DB=${1:-charlm-cooldown-sweep.db}
W=30
B="--lr 3e-3 --lr 1e-2 --seeds 2 --log-every 10 --db $DB -q"
WSD=()
for f in 0.1 0.2 0.4 0.6 0.8; do for form in linear 1-sqrt; do WSD+=(-s "wsd(warmup=$W, decay=$f, form=\"$form\")"); done; done
lrkit bench -w charlm -s "cosine(warmup=$W)" -n 150 $B
lrkit bench -w charlm -s "constant(warmup=$W)" -n 300 $B
lrkit bench -w charlm -s "cosine(warmup=$W)" "${WSD[@]}" -n 300 $B
lrkit bench -w charlm -s "constant(warmup=$W)" "${WSD[@]}" -s "cosine(warmup=$W)" -n 600 $B
python benchmarks/bench_laws.py --export-sweep "$DB"
