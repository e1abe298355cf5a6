#!/usr/bin/env bash
# Train the general PGCGM (1-5 elements, up to K_max base sites, Wyckoff multiplicities in the conditions)
# on one GPU for a fixed number of steps, within a wall-clock cap, and pack the result into $OUT.
#
# Run from the repository root on the GPU machine:
#   OUT=/path/to/out bash benchmarks/pgcgm_general_gpu_train.sh
# Environment (all optional): DATA (base-site table, default .gpu/pgcgm_general_train.parquet, written by
# benchmarks/pgcgm_general_data.py), CONFIG (default pgcgm_general_gpu), STEPS (default 4000), MINUTES
# (wall-clock cap of the training itself, default 6; the newest checkpoint is packed when it is hit),
# EVERY (checkpoint interval, default 500), SET (extra "--set key=value" arguments, space-separated).
#
# $OUT receives two files: pgcgm_general_model.tar.gz (the packaged model: generator weights, state.json,
# config.yaml, conditions.csv; `xtalgen generate --model pgcgm --checkpoint <unpacked folder>`) and
# pgcgm_general_logs.tar.gz (metrics.csv, the training log, the registry entry).
set -euo pipefail
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the output folder}"
DATA=${DATA:-.gpu/pgcgm_general_train.parquet}
CONFIG=${CONFIG:-pgcgm_general_gpu}
STEPS=${STEPS:-4000}
MINUTES=${MINUTES:-6}
EVERY=${EVERY:-500}
RUN=${RUN:-/tmp/pgcgm_general_run}
WORK=$(mktemp -d)
mkdir -p "$OUT"
python - <<'PY' || true
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
start=$(date +%s)
# shellcheck disable=SC2086
timeout --signal=INT "$((MINUTES * 60))" python -m xtalgen.cli train pgcgm --data "$DATA" --config "$CONFIG" \
    -o "$RUN" --set "max_steps=$STEPS" --set "checkpoint_every=$EVERY" --set keep_last=1 ${SET:-} \
    2>&1 | tee "$WORK/train.log" || echo "training stopped (exit ${PIPESTATUS[0]}): packing the newest checkpoint"
echo "training wall time: $(( $(date +%s) - start )) s" | tee -a "$WORK/train.log"
python -m xtalgen.pretrained.package "$RUN" --name pgcgm-mp-general --version 0.1 --kind pgcgm \
    --data-desc "MP <= 20 sites, train split, 1-5 elements, up to K_max base sites (base-site table)" \
    --data-file "$(basename "$DATA")" --config-name "$CONFIG" --registry "$WORK/registry" --overwrite \
    2>&1 | tee -a "$WORK/train.log"
model_dir=$(find "$WORK/registry" -mindepth 1 -maxdepth 3 -name weights.safetensors -printf '%h\n' | head -1)
tar -czf "$OUT/pgcgm_general_model.tar.gz" -C "$(dirname "$model_dir")" "$(basename "$model_dir")"
tar -czf "$OUT/pgcgm_general_logs.tar.gz" -C "$WORK" train.log registry/registry.json \
    -C "$RUN" logs
ls -la "$OUT"
