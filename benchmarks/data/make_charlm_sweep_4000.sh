#!/bin/bash
# Build benchmarks/data/charlm_cooldown_sweep_4000.csv: issue 12's protocol at 2000/4000 steps, twice the
# long sweep's lengths (make_charlm_long_sweep.sh), to see whether the best cooldown moves longer with the run.
# lrkit's charlm workload, AdamW, peak LR 3e-3, seeds 0 and 1, validation loss every 20 steps:
#   pilots  constant(warmup=30) of 2000 steps and cosine(warmup=30) of 2000 steps;
#   targets wsd(warmup=30, decay=f, form=linear|1-sqrt), f in 0.1 0.2 0.4 0.6 0.8, at 2000 and 4000 steps.
# The 2000-step constant and WSD runs are the long sweep's (REUSE=its CSV, the default): charlm runs are
# deterministic per seed and a constant run does not depend on its length, so they are copied, not rerun
# (REUSE= runs them too). New per seed: 42k steps, about 20-30 min on one core (trials already in DB are kept:
# rerun to resume).
#   usage: benchmarks/data/make_charlm_sweep_4000.sh [DB] [SEEDS]     (from the repository root; SEEDS default 2)
#   LRKIT / PYTHON: the commands to run (default: lrkit / python on PATH).
set -e
DB=${1:-charlm-4000-sweep.db}
SEEDS=${2:-2}
OUT=benchmarks/data/charlm_cooldown_sweep_4000.csv
REUSE=${REUSE-benchmarks/data/charlm_cooldown_sweep_long.csv}
LRKIT=${LRKIT:-lrkit}
PYTHON=${PYTHON:-python}
PEAK=3e-3
W=30
WSD=()
for f in 0.1 0.2 0.4 0.6 0.8; do for form in linear 1-sqrt; do WSD+=(-s "wsd(warmup=$W, decay=$f, form=\"$form\")"); done; done
if [ -n "$REUSE" ] && [ ! -e "$OUT" ]; then
  $PYTHON - "$REUSE" "$OUT" "$SEEDS" <<'PY'
import csv, sys
src, out, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src) as fh, open(out, "w", newline="") as oh:
    r = csv.DictReader(fh)
    w = csv.DictWriter(oh, r.fieldnames)
    w.writeheader()
    for row in r:
        if (row["steps"] == "2000" and float(row["peak_lr"]) == 3e-3 and int(row["seed"]) < seeds
                and (row["schedule"].startswith("wsd") or row["schedule"] == "constant(warmup=30)")):
            w.writerow(row)
PY
fi
for n in $(seq 1 "$SEEDS"); do
  B="--lr $PEAK --seeds $n --log-every 20 --db $DB -q --workers 1 --threads 1"
  if [ -z "$REUSE" ]; then $LRKIT bench -w charlm -s "constant(warmup=$W)" "${WSD[@]}" -n 2000 $B; fi
  $LRKIT bench -w charlm -s "cosine(warmup=$W)" -n 2000 $B
  $LRKIT bench -w charlm "${WSD[@]}" -n 4000 $B
  $PYTHON benchmarks/bench_laws.py --export-sweep "$DB" --sweep "$OUT"
done
