#!/usr/bin/env bash
# The one device session: on a CUDA machine, at the same time on one GPU,
#   - benchmarks/gpu_check.sh            (gpu configs train a few hundred steps, generation, CHGNet relaxation),
#   - benchmarks/pgcgm_general_gpu_train.sh  (the general PGCGM, trained for a fixed wall-clock budget),
#   - benchmarks/crystens_gpu_train.sh   (unconditional + conditional CrysTens diffusion, N = 32),
#   - benchmarks/potential_agreement_gpu.sh (CHGNet vs SevenNet on 200 PGCGM structures),
# each skipped when its script or data is missing. Wheels from .whl/ are installed once, to /tmp/site.
# Run from the repository root with $OUT set; at most 8 files come back:
#   gpu_check.log gpu_summary.md nvsmi.csv artifacts.tar.gz (gpu_check), pgcgm_general_model.tar.gz,
#   crystens_models.tar.gz, agreement.tar.gz, session_logs.tar.gz
# Environment: SESSION_S (wall-clock budget of the whole session, default 540).
set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
: "${OUT:?set OUT}"
export PYTHONUNBUFFERED=1
BUDGET=${SESSION_S:-540}
T0=$(date +%s)
L=/tmp/session_logs
mkdir -p "$L" "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    >"$L/pip.log" 2>&1 || { echo "wheel install failed"; tail -20 "$L/pip.log"; }
[ -d .gpu/pystub ] && cp -r .gpu/pystub/. /tmp/site/  # stand-ins for packages left out to fit the transfer (plotly)
export PYTHONPATH=$PWD/src:/tmp/site
command -v python >/dev/null || { mkdir -p /tmp/bin && ln -sf "$(command -v python3)" /tmp/bin/python && export PATH=/tmp/bin:$PATH; }
echo "install $(( $(date +%s) - T0 )) s"
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }

pids=()
if [ -f benchmarks/pgcgm_general_gpu_train.sh ] && [ -f .gpu/pgcgm_general_train.parquet ]; then
    (OUT=/tmp/out_general MINUTES=$(( ($(left) - 120) / 60 )) bash benchmarks/pgcgm_general_gpu_train.sh \
        >"$L/general.log" 2>&1) &
    pids+=($!)
fi
if [ -f benchmarks/crystens_gpu_train.sh ] && ls .gpu/crystens/*.npy.xz >/dev/null 2>&1; then
    (OUT=/tmp/out_crystens CRYSTENS_GPU_DATA=$(ls .gpu/crystens/*.npy.xz | head -1) CRYSTENS_GPU_WALL_S=$(( $(left) - 150 )) bash benchmarks/crystens_gpu_train.sh \
        >"$L/crystens.log" 2>&1) &
    pids+=($!)
fi
if [ -f benchmarks/potential_agreement_gpu.sh ] && [ -d .gpu/agree ]; then
    (OUT=/tmp/out_agree WALL_S=$(( $(left) - 60 )) bash benchmarks/potential_agreement_gpu.sh \
        >"$L/agree.log" 2>&1) &
    pids+=($!)
fi
# the gpu-config check in the foreground; its CrysTens diffusion steps are left to crystens_gpu_train.sh
GPU_CHECK_SITE_READY=1 GPU_CHECK_BUDGET=$(( $(left) - 90 )) \
    GPU_CHECK_SKIP=${GPU_CHECK_SKIP:-train_crystens_diffusion,generate_crystens_diffusion,potential_agreement} \
    bash benchmarks/gpu_check.sh
echo "gpu_check done at $(( $(date +%s) - T0 )) s; waiting for ${#pids[@]} background jobs"
for p in "${pids[@]}"; do
    w=$(left); [ "$w" -lt 5 ] && w=5
    timeout "$w" tail --pid="$p" -f /dev/null || kill -- "$p" 2>/dev/null
done
[ -f /tmp/out_general/pgcgm_general_model.tar.gz ] && cp /tmp/out_general/pgcgm_general_model.tar.gz "$OUT/"
[ -d /tmp/out_general ] && cp /tmp/out_general/*logs* "$L/" 2>/dev/null
[ -d /tmp/out_crystens ] && tar czf "$OUT/crystens_models.tar.gz" -C /tmp/out_crystens .
[ -d /tmp/out_agree ] && tar czf "$OUT/agreement.tar.gz" -C /tmp/out_agree .
rm -f "$OUT/results.jsonl.bak"
[ -f "$OUT/results.jsonl" ] && mv "$OUT/results.jsonl" "$L/"
tail -n 30 "$L"/*.log
tar czf "$OUT/session_logs.tar.gz" -C "$L" .
ls -la "$OUT"
echo "session done in $(( $(date +%s) - T0 )) s"
