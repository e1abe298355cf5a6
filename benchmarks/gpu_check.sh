#!/usr/bin/env bash
# One timed check of xtalgen on a CUDA machine: training throughput of PGCGM and the three CrysTens
# models with their gpu configs (a few hundred steps each), generation, CHGNet relaxation on the GPU,
# benchmarks/potential_agreement.py on the GPU when it exists (else SevenNet static energies), and
# `xtalgen relax` on the CPU cores for comparison.
#
# Run from anywhere; it works in the repo root. Needs .whl/ (wheels of the packages the machine lacks)
# and .gpu/ (pgcgm_train_arrays.npz: PGCGM base sites of pgcgm_ternary.parquet as the gpu config's data
# section makes them; mp20_n64.npy.xz + .config.json + .ids.txt: CrysTens N = 64 of 1,500 MP <= 20 train
# structures;
# pgcgm50/: 50 CIFs of `xtalgen generate -n 50` (shipped PGCGM, seed 0), the structures relaxed here;
# mp_refs_pgcgm50.csv.gz: the MP <= 20-site structures of their chemical systems, hull references).
#   OUT=/some/dir bash benchmarks/gpu_check.sh
# Writes $OUT/gpu_check.log (everything, with timings), $OUT/gpu_summary.md (one row per step),
# $OUT/results.jsonl (raw records), $OUT/nvsmi.csv (GPU utilisation/memory every 0.5 s) and
# $OUT/artifacts.tar.gz (training logs, generation summaries, relaxation records, a few CIFs).
#
# Environment: GPU_CHECK_SITE_READY=1 skips the wheel install (done by the caller); GPU_CHECK_DRY=1 runs every command line on the CPU with a few steps each (no wheel install);
# GPU_CHECK_BUDGET (s, default 390) bounds all steps after the install: each step's timeout is its own
# budget or what is left, a step with < 15 s left is skipped; GPU_CHECK_SKIP=name,name skips steps
# (names as in the summary); GPU_CHECK_WORK (default /tmp/gpu_check_work) holds the runs and is emptied
# first unless GPU_CHECK_KEEP_WORK=1; GPU_CHECK_SCALE multiplies every step's budget (default 1, dry 8).
set -u -o pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
REPO=$PWD
DRY=${GPU_CHECK_DRY:-0}
OUT=${OUT:-/tmp/gpu_check_out}
W=${GPU_CHECK_WORK:-/tmp/gpu_check_work}
BUDGET=${GPU_CHECK_BUDGET:-390}
SCALE=${GPU_CHECK_SCALE:-1}
[ "$DRY" = 1 ] && SCALE=${GPU_CHECK_SCALE:-8}
SKIP=",${GPU_CHECK_SKIP:-},"
[ "${GPU_CHECK_KEEP_WORK:-0}" = 1 ] || rm -rf "$W"
mkdir -p "$OUT" "$W" || exit 1
LOG=$OUT/gpu_check.log
RES=$OUT/results.jsonl
: >"$LOG"
: >"$RES"
export PYTHONUNBUFFERED=1 GPU_CHECK_RESULTS=$RES
PY="python3 benchmarks/gpu_check.py"
T_SCRIPT=$(date +%s)
log() { echo "$*" | tee -a "$LOG"; }
now() { date +%s.%N; }

# --- wheels and environment ------------------------------------------------------------------------
t=$(now)
if [ "$DRY" = 1 ]; then
    export PYTHONPATH=$REPO/src${PYTHONPATH:+:$PYTHONPATH}
    DEV=cpu
else
    if [ "${GPU_CHECK_SITE_READY:-0}" != 1 ]; then  # the wheels may already be installed by a caller
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            .whl/*.whl 2>&1 | grep -v "Running pip as the 'root' user" | tee -a "$LOG"
        [ "${PIPESTATUS[0]}" = 0 ] || { log "wheel install failed"; exit 1; }
    fi
    export PYTHONPATH=$REPO/src:/tmp/site
    DEV=cuda
fi
log "install: $(awk -v a="$t" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s; date $(date -u +%FT%TZ); nproc $(nproc)"
WORKERS=$(nproc)
[ "$DRY" = 1 ] && WORKERS=2
nvidia-smi 2>&1 | tee -a "$LOG"
timeout 120 python3 - <<'EOF' 2>&1 | grep -v -i warn | tee -a "$LOG"
import importlib.metadata as md, time
t = time.perf_counter()
import torch
import xtalgen.cli.main  # noqa
import chgnet.model, sevenn.calculator, diffusers, pymatgen.core, spglib  # noqa
print(f"imports {time.perf_counter() - t:.1f} s; torch {torch.__version__}, cuda {torch.version.cuda}, "
      f"available {torch.cuda.is_available()}, devices {torch.cuda.device_count()}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device {p.name}, {p.total_memory / 2**30:.0f} GiB, cc {p.major}.{p.minor}, {p.multi_processor_count} SMs")
for d in ("numpy", "scipy", "pandas", "lightning", "typer", "e3nn", "torch-geometric", "huggingface-hub",
          "diffusers", "pymatgen-core", "spglib", "chgnet", "sevenn", "ase", "matscipy"):
    try:
        print(f"  {d} {md.version(d)}")
    except md.PackageNotFoundError:
        print(f"  {d} MISSING")
EOF
NVPID=""
if [ "$DRY" != 1 ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw,clocks.sm \
        --format=csv,noheader,nounits -lms 500 >"$OUT/nvsmi.csv" 2>/dev/null &
    NVPID=$!
fi

# --- data: the CrysTens MP <= 20 set (N = 64) is carried xz-compressed ----------------------------
python3 -c "
import lzma, shutil, sys
with lzma.open('.gpu/mp20_n64.npy.xz') as src, open(sys.argv[1], 'wb') as dst:
    shutil.copyfileobj(src, dst, 1 << 24)
" "$W/mp20_n64.npy" && cp .gpu/mp20_n64.config.json .gpu/mp20_n64.ids.txt "$W/" || log "could not unpack .gpu/mp20_n64.npy.xz"

# --- steps -------------------------------------------------------------------------------------------
T0=$(date +%s)
run_step() {  # NAME BUDGET_S COMMAND...  (STEP_RUN=run folder, for steps/s from its metrics.csv)
    local name=$1 budget=$2
    shift 2
    local left=$((BUDGET - ($(date +%s) - T0)))
    budget=$((budget * SCALE))
    local limit=$((budget < left ? budget : left))
    if [[ $SKIP == *",$name,"* ]]; then
        log "=== [$name] skipped (GPU_CHECK_SKIP)"
        printf '{"step":"%s","rc":"skipped"}\n' "$name" >>"$RES"
        return 0
    fi
    if ((limit < 15)); then
        log "=== [$name] skipped: the check's time budget (${BUDGET} s) is spent"
        printf '{"step":"%s","rc":"no time"}\n' "$name" >>"$RES"
        return 0
    fi
    log "=== [$name] timeout ${limit}s: $*"
    local s e rc wall
    s=$(now)
    GPU_CHECK_STEP=$name timeout -k 5 "$limit" "$@" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    e=$(now)
    wall=$(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.1f", b-a}')
    log "=== [$name] rc=$rc wall=${wall}s$([ "$rc" = 124 ] && echo ' (TIMED OUT)')"
    printf '{"step":"%s","rc":%s,"wall_s":%s,"timeout_s":%s,"start":%s,"end":%s,"run":"%s"}\n' \
        "$name" "$rc" "$wall" "$limit" "$s" "$e" "${STEP_RUN:-}" >>"$RES"
    return 0
}

if [ "$DRY" = 1 ]; then
    S_PG=5; S_DIFF=3; S_GAN=5; LOG_EVERY=1
    TRAIN_DEV=(--set accelerator=cpu --set batch_size=4 --set progress=false)
    DIFF_DEV=(--set accelerator=cpu --set batch_size=2 --set precision=32-true --set progress=false
        --set "model.block_out_channels=[32,32,64,64]")  # a small UNet: the command line is what is checked
    N_PG=5; N_DIFF=4; DIFF_STEPS=2; DIFF_BATCH=2; N_RELAX=3; RELAX_STEPS=5; RELAX_S=0; N_AGREE=2
else
    S_PG=300; S_DIFF=150; S_GAN=300; LOG_EVERY=25
    TRAIN_DEV=(--set progress=false)
    DIFF_DEV=(--set progress=false)
    N_PG=1000; N_DIFF=200; DIFF_STEPS=50; DIFF_BATCH=100; N_RELAX=50; RELAX_STEPS=100; RELAX_S=45; N_AGREE=12
fi

# (a) PGCGM, gpu config (batch 256, n_critic 5, physics terms over all symmetry images)
STEP_RUN=$W/pgcgm run_step train_pgcgm 60 $PY cli -- train pgcgm --data .gpu/pgcgm_train_arrays.npz --config gpu \
    -o "$W/pgcgm" --set max_steps=$S_PG --set log_every=$LOG_EVERY --set checkpoint_every=$S_PG "${TRAIN_DEV[@]}"
# (b) CrysTens, gpu configs (N = 64): diffusion (211 M-parameter UNet, bf16-mixed), GAN, WGAN-GP
STEP_RUN=$W/diffusion run_step train_crystens_diffusion 100 $PY cli -- train crystens-diffusion \
    --data "$W/mp20_n64.npy" --config gpu -o "$W/diffusion" --set max_steps=$S_DIFF --set log_every=$LOG_EVERY \
    --set checkpoint_every=$S_DIFF "${DIFF_DEV[@]}"
STEP_RUN=$W/gan run_step train_crystens_gan 40 $PY cli -- train crystens-gan --data "$W/mp20_n64.npy" --config gpu \
    -o "$W/gan" --set max_steps=$S_GAN --set log_every=$LOG_EVERY --set checkpoint_every=$S_GAN "${TRAIN_DEV[@]}"
STEP_RUN=$W/wgan run_step train_crystens_wgan 45 $PY cli -- train crystens-wgan --data "$W/mp20_n64.npy" \
    --config gpu -o "$W/wgan" --set max_steps=$S_GAN --set log_every=$LOG_EVERY --set checkpoint_every=$S_GAN \
    "${TRAIN_DEV[@]}"
# (c) generation: the shipped PGCGM (the CLI samples and post-processes on the CPU), the new diffusion model on $DEV
run_step generate_pgcgm 60 $PY cli -- generate -n $N_PG -o "$W/gen_pgcgm" --workers "$WORKERS"
run_step generate_crystens_diffusion 45 $PY crystens-sample "$W/diffusion" -o "$W/gen_diffusion" -n $N_DIFF \
    --steps $DIFF_STEPS --batch $DIFF_BATCH --device $DEV --workers "$WORKERS"
# (d) CHGNet relaxation (xtalgen's settings) of the carried PGCGM structures on $DEV; xtalgen's own relax is CPU-only
run_step chgnet_relax_$DEV 60 $PY chgnet-relax .gpu/pgcgm50 -o "$W/relax_cuda" -n $N_RELAX --steps $RELAX_STEPS \
    --device $DEV --max-seconds $RELAX_S
# (e) potential agreement (benchmarks/potential_agreement.py, when it exists), else a SevenNet smoke test
if [ -f benchmarks/potential_agreement.py ]; then
    AGREE=(python3 benchmarks/potential_agreement.py .gpu/pgcgm50 --device $DEV)
    HELP=$(timeout 60 python3 benchmarks/potential_agreement.py --help 2>&1)
    if grep -q -- "--output" <<<"$HELP"; then AGREE+=(--output "$W/agreement"); elif grep -q -- "--out\b" <<<"$HELP"; then
        AGREE+=(--out "$W/agreement"); fi
    grep -q -- "--limit" <<<"$HELP" && AGREE+=(--limit $N_AGREE)
    grep -q -- "--steps" <<<"$HELP" && AGREE+=(--steps $RELAX_STEPS)
    grep -q -- "--references" <<<"$HELP" && AGREE+=(--references .gpu/mp_refs_pgcgm50.csv.gz)
    grep -q -- "--cache" <<<"$HELP" && AGREE+=(--cache "$W/agreement_cache")
    run_step potential_agreement 130 "${AGREE[@]}"
else
    log "benchmarks/potential_agreement.py not found: SevenNet static energies instead"
    run_step sevennet_static_$DEV 40 $PY sevennet-static "$W/relax_cuda/cifs" -n $N_RELAX --device $DEV \
        -o "$W/sevennet_static.json" --max-seconds $RELAX_S
fi
# the same relaxations with `xtalgen relax` on all CPU cores, for comparison (also checks cuda vs cpu energies)
run_step xtalgen_relax_cpu 45 $PY cli -- relax .gpu/pgcgm50 -o "$W/relax_cpu" --steps $RELAX_STEPS \
    --workers "$WORKERS" --limit $((2 * WORKERS)) --quiet

# --- summary and artifacts -----------------------------------------------------------------------------
[ -n "$NVPID" ] && kill "$NVPID" 2>/dev/null
$PY summary --results "$RES" --output "$OUT/gpu_summary.md" --nvsmi "$OUT/nvsmi.csv" --work "$W" \
    --header "dry=$DRY device=$DEV workers=$WORKERS budget=${BUDGET}s total=$(($(date +%s) - T_SCRIPT))s" 2>&1 |
    tee -a "$LOG"
(cd "$W" && find . -type f -size -2M ! -name '*.safetensors' ! -name '*.npy' ! -name '*.npz' ! -name 'events.out*' \
    ! -path './gen_pgcgm/cifs/*' -print0 | tar czf "$OUT/artifacts.tar.gz" --null -T -) 2>&1 | tee -a "$LOG"
log "done in $(($(date +%s) - T_SCRIPT)) s; artifacts $(du -h "$OUT/artifacts.tar.gz" | cut -f1)"
