#!/bin/bash
# Regenerate benchmarks/data/charlm_cooldown_sweep_long.csv: a longer, less noise-limited cooldown sweep for
# issue 12's protocol (bench_laws.py), beside the 300/600-step one (make_charlm_sweep.sh).
# lrkit's charlm workload, AdamW, peak LR 3e-3 (PEAKS="3e-3 1e-2" for more), validation loss every 20 steps:
#   pilots  constant(warmup=30) of 2000 steps (cut at 1000 by the benchmark) and cosine(warmup=30) of 1000 steps;
#   targets wsd(warmup=30, decay=f, form=linear|1-sqrt), f in 0.1 0.2 0.4 0.6 0.8, at 1000 and 2000 steps.
# 33k steps per seed; seed 0 first, then seed 1 (about 10-25 min per seed on 2 cores; trials already in DB are
# kept: rerun to resume).
#   usage: benchmarks/data/make_charlm_long_sweep.sh [DB] [SEEDS]     (from the repository root; SEEDS default 2)
#   LRKIT / PYTHON: the commands to run (default: lrkit / python on PATH); PEAKS: the peak LRs (default 3e-3);
#   OPTIONS: workload options, e.g. "batch_size=8"; OUT: the CSV (default charlm_cooldown_sweep_long.csv);
#   LONG: the longest length (default 2000; the pilots and the shorter targets are LONG/2).
#   The small-batch sweep: OPTIONS=batch_size=8 PEAKS="3e-3 1e-3 1e-2" OUT=benchmarks/data/charlm_cooldown_sweep_b8.csv
#   benchmarks/data/make_charlm_long_sweep.sh charlm-b8-sweep.db 3   (about 6 min per seed and peak LR on one core)
#   The small-model sweep: OPTIONS="batch_size=8 d_model=16 layers=1" PEAKS="3e-3 1e-2 3e-2"
#   OUT=benchmarks/data/charlm_cooldown_sweep_small.csv ... charlm-small-sweep.db 3   (about 1 min per seed and peak LR)
#   The small-model sweep at 2000/4000 steps: the same OPTIONS, LONG=4000 PEAKS="1e-2 3e-2"
#   OUT=benchmarks/data/charlm_cooldown_sweep_small_4000.csv ... charlm-small-4000.db 3   (about 2 min per seed and peak LR)
#   The small-model sweep at 4000/8000 steps: the same OPTIONS, LONG=8000, one database per peak LR run side by side
#   (PEAKS=1e-2 ... small8000_1e-2.db 3 and PEAKS=3e-2 ... small8000_3e-2.db 3, about 17 min per seed and peak LR),
#   then both exported into OUT=benchmarks/data/charlm_cooldown_sweep_small_8000.csv (bench_laws.py --export-sweep).
#   The CSV keeps the trials of other databases (export merges), so a peak LR can be added later.
set -e
DB=${1:-charlm-long-sweep.db}
SEEDS=${2:-2}
PEAKS=${PEAKS:-3e-3}
OUT=${OUT:-benchmarks/data/charlm_cooldown_sweep_long.csv}
OPTS=()
for o in ${OPTIONS:-}; do OPTS+=(--option "$o"); done
LONG=${LONG:-2000}
HALF=$((LONG / 2))
LRKIT=${LRKIT:-lrkit}
PYTHON=${PYTHON:-python}
W=30
WSD=()
for f in 0.1 0.2 0.4 0.6 0.8; do for form in linear 1-sqrt; do WSD+=(-s "wsd(warmup=$W, decay=$f, form=\"$form\")"); done; done
for peak in $PEAKS; do for n in $(seq 1 "$SEEDS"); do
  B="--lr $peak --seeds $n --log-every 20 --db $DB -q --workers 1 --threads 1"
  if [ ${#OPTS[@]} -gt 0 ]; then B="$B ${OPTS[*]}"; fi
  $LRKIT bench -w charlm -s "constant(warmup=$W)" "${WSD[@]}" -n "$LONG" $B
  $LRKIT bench -w charlm -s "cosine(warmup=$W)" "${WSD[@]}" -n "$HALF" $B
  $PYTHON benchmarks/bench_laws.py --export-sweep "$DB" --sweep "$OUT"
done; done
