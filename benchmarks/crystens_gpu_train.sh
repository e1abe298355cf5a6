#!/usr/bin/env bash
# Train the unconditional and the conditional CrysTens diffusion models (configs/crystens_diffusion_gpu.yaml)
# on MP <= 20-site CrysTens (N = 32) concurrently on one GPU for a fixed step budget, then write each
# model's generation weights (EMA only) + state.json (training config, CrysTens config) to $OUT:
#   $OUT/crystens-diffusion-mp20-uncond/{weights.safetensors,state.json}
#   $OUT/crystens-diffusion-mp20-cond/{weights.safetensors,state.json}
# Each folder loads as a checkpoint (`xtalgen generate --model crystens-diffusion --checkpoint FOLDER`).
#
# Run from the repository root:  PYTHONPATH=$PWD/src:/tmp/site bash benchmarks/crystens_gpu_train.sh
# Environment:
#   OUT                    output folder (default runs/crystens_gpu_out)
#   CRYSTENS_GPU_DATA      encoded training tensors, .npy or .npy.xz with its .config.json / .ids.txt beside it
#                          (default .gpu/crystens/mp20_n32_train14k.npy.xz)
#   CRYSTENS_GPU_STEPS     optimisation steps per model (default 6000)
#   CRYSTENS_GPU_WALL_S    wall-clock limit per run in s (default 190); when it is hit the latest periodic
#                          checkpoint (every CRYSTENS_GPU_EVERY steps, default 500) is exported
#   CRYSTENS_GPU_TINY=1    CPU smoke test: accelerator cpu, batch 8, 4 steps, checkpoint every 2
set -euo pipefail
PY=${PYTHON:-python3}
OUT=${OUT:-runs/crystens_gpu_out}
DATA=${CRYSTENS_GPU_DATA:-.gpu/crystens/mp20_n32_train14k.npy.xz}
STEPS=${CRYSTENS_GPU_STEPS:-6000}
WALL=${CRYSTENS_GPU_WALL_S:-190}
EVERY=${CRYSTENS_GPU_EVERY:-500}
WORK=${CRYSTENS_GPU_WORK:-$(mktemp -d /tmp/crystens_gpu.XXXXXX)}
CONFIG=src/xtalgen/configs/crystens_diffusion_gpu.yaml
EXTRA=()
if [[ "${CRYSTENS_GPU_TINY:-0}" == "1" ]]; then
  STEPS=4; EVERY=2
  EXTRA=(accelerator=cpu precision=32-true batch_size=8)
fi
mkdir -p "$OUT" "$WORK"

# the tensors: decompress an .npy.xz once (sidecars copied beside it)
case "$DATA" in
  *.npy.xz)
    stem=${DATA%.npy.xz}; local_npy="$WORK/$(basename "$stem").npy"
    xz -dc "$DATA" > "$local_npy"
    cp "$stem.config.json" "${local_npy%.npy}.config.json"
    [[ -f "$stem.ids.txt" ]] && cp "$stem.ids.txt" "${local_npy%.npy}.ids.txt"
    DATA=$local_npy ;;
esac

train() {  # name, extra overrides...
  local name=$1; shift
  timeout "$WALL" "$PY" -m xtalgen.cli train crystens-diffusion --data "$DATA" --config "$CONFIG" \
    --output "$WORK/$name" --set "max_steps=$STEPS" --set "checkpoint_every=$EVERY" \
    $(for o in "${EXTRA[@]}" "$@"; do printf -- '--set %s ' "$o"; done) > "$WORK/$name.log" 2>&1 || \
    echo "$name: training stopped with status $? (timeout 124: the latest checkpoint is exported)"
}
train uncond conditioning.enabled=false &
train cond conditioning.enabled=true &
wait
"$PY" - "$WORK" "$OUT" <<'PY'
import json, sys
from pathlib import Path
from safetensors.torch import save_file
from xtalgen.pipelines.training.checkpoint import find_checkpoint, load_checkpoint

work, out = Path(sys.argv[1]), Path(sys.argv[2])
for name in ("uncond", "cond"):
    path = find_checkpoint(work / name)
    if path is None:
        print(f"{name}: no checkpoint written; see {work / name}.log"); continue
    ckpt = load_checkpoint(path)
    tensors = {k: v.contiguous() for k, v in ckpt.tensors.items() if k.startswith("module.ema.")}
    folder = out / f"crystens-diffusion-mp20-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "weights.safetensors"), metadata={"format": "pt", "step": str(ckpt.step)})
    state = {**ckpt.state, "modules": ["ema"], "optimizers": {}, "sampler": {}}
    (folder / "state.json").write_text(json.dumps(state, indent=1))
    mb = (folder / "weights.safetensors").stat().st_size / 1e6
    print(f"{name}: step {ckpt.step}, {mb:.1f} MB -> {folder}")
PY
tail -n 3 "$WORK"/*.log
[[ -n "${local_npy:-}" ]] && rm -f "$local_npy"  # the decompressed copy (the run folders and logs stay)
true
