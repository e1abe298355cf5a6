#!/usr/bin/env bash
# CHGNet vs SevenNet E_hull agreement (benchmarks/potential_agreement.py) for the CIFs in $DATA/cifs on one
# GPU, in SHARDS concurrent processes, within WALL_S seconds in all. Run from the repository root with OUT set.
#   phase 1: reference energies of the potentials without a shipped table (SevenNet), the needed references of
#            $DATA/mp_refs.csv.gz split into SHARDS disjoint subsets, one process each, own cache folder each;
#   phase 2: the structures split into SHARDS/2 shards, one potential_agreement.py process per shard and
#            potential (SHARDS in all, so both potentials advance together and a cut-off leaves few structures
#            done by one only), each with its own cache folder seeded with the merged phase-1 references (so no
#            reference is computed twice and no two processes append to one file);
#   phase 3: all caches merged; potential_agreement.py over the structures relaxed by every potential (all from
#            cache: no new relaxation) -> $OUT/agreement.md, $OUT/agreement_data.tar.gz (CSVs, logs, caches).
# Env: SHARDS (8), WALL_S (330), COMBINE_S (seconds kept for phase 3, 60), DATA (.gpu/agree), STEPS (200),
#      AGREE_DRY=1 (CPU test: --device cpu, first 4 CIFs, SHARDS_DRY (4) processes, 2 FIRE steps).
# Resume: unpack cache/ of an earlier agreement_data.tar.gz into $DATA/cache; its records are reused.
set -u
: "${OUT:?set OUT to the output folder}"
START=$(date +%s)
SHARDS=${SHARDS:-8}
WALL_S=${WALL_S:-330}
COMBINE_S=${COMBINE_S:-60}
DATA=${DATA:-.gpu/agree}
STEPS=${STEPS:-200}
DEVICE=cuda
LIMIT=
if [ "${AGREE_DRY:-0}" = 1 ]; then
  DEVICE=cpu; LIMIT=4; STEPS=2; SHARDS=${SHARDS_DRY:-4}
fi
CORES=$(nproc)
THREADS=$(( CORES / SHARDS )); [ "$THREADS" -ge 1 ] || THREADS=1
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
REFS=$DATA/mp_refs.csv.gz
W=$(mktemp -d)
mkdir -p "$OUT" "$W/logs"
left() { echo $(( WALL_S - ($(date +%s) - START) )); }
stamp() { echo "[$(( $(date +%s) - START )) s] $*" | tee -a "$W/logs/phases.log"; }

# structures: the first LIMIT CIFs (sorted), round-robin into shards
mapfile -t CIFS < <(ls "$DATA"/cifs/*.cif | sort)
[ -n "$LIMIT" ] && CIFS=("${CIFS[@]:0:$LIMIT}")
N=${#CIFS[@]}
RSHARDS=$(( SHARDS / 2 )); [ "$RSHARDS" -ge 1 ] || RSHARDS=1  # structure shards of phase 2
for ((i = 0; i < RSHARDS; i++)); do mkdir -p "$W/in/shard_$i"; done
for ((k = 0; k < N; k++)); do cp "${CIFS[$k]}" "$W/in/shard_$(( k % RSHARDS ))/"; done
mkdir -p "$W/in/all"; cp "${CIFS[@]}" "$W/in/all/"
stamp "$N structures, $SHARDS processes ($RSHARDS structure shards x 2 potentials in phase 2), device $DEVICE, $THREADS CPU thread(s) each, FIRE $STEPS steps, budget $WALL_S s"

# merge JSON-lines caches: same file name -> one file, repeated lines once (awk ends every line, so a cut-off
# line stays alone and is skipped on reading)
merge() {  # merge DEST SRC...
  local dest=$1; shift; mkdir -p "$dest"
  for name in $(for d in "$@"; do ls "$d" 2>/dev/null; done | grep '\.jsonl$' | sort -u); do
    local files=(); for d in "$@"; do [ -f "$d/$name" ] && files+=("$d/$name"); done
    awk '!seen[$0]++' "${files[@]}" > "$dest/$name.tmp" && mv "$dest/$name.tmp" "$dest/$name"
  done
}

# phase 1: reference energies, disjoint subsets
T1=$(( $(left) - COMBINE_S )); [ "$T1" -gt $(( WALL_S / 2 )) ] && T1=$(( WALL_S / 2 ))
PIDS=()
for ((i = 0; i < SHARDS; i++)); do
  mkdir -p "$W/rcache_$i"; [ -d "$DATA/cache" ] && cp "$DATA"/cache/*.jsonl "$W/rcache_$i/" 2>/dev/null
  timeout "$T1" python3 - "$i" "$SHARDS" "$W/in/all" "$REFS" "$W/refs_$i" "$W/rcache_$i" "$DEVICE" "$THREADS" \
    > "$W/logs/refs_$i.log" 2>&1 <<'EOF' &
import argparse, importlib.util, json, sys, time
from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

i, shards, cifs, refs, subdir, cache, device, threads = sys.argv[1:]
i, shards = int(i), int(shards)
spec = importlib.util.spec_from_file_location("pa", "benchmarks/potential_agreement.py")
pa = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pa)
from xtalgen.evaluation.reference_table import shipped_reference_path
from xtalgen.evaluation.stability import reference_indices
from xtalgen.postprocess.potentials import energy_model, parse_potentials

if device == "cpu":
    import torch
    torch.set_num_threads(int(threads))
systems = [frozenset(el.symbol for el in Structure.from_file(p).composition.elements)
           for p in sorted(Path(cifs).glob("*.cif"))]
frame = pd.read_csv(refs)
frame = frame[frame["nsites"] <= 20].reset_index(drop=True)
chosen = reference_indices(systems, [frozenset(json.loads(e.replace("'", '"'))) for e in frame["elements"]])
Path(subdir).mkdir(parents=True, exist_ok=True)
sub = Path(subdir) / Path(refs).name  # same file name -> same cache file name as the full file
frame.iloc[chosen[i::shards]].to_csv(sub, index=False)
ns = argparse.Namespace(references=str(sub), max_sites=20, cache=cache, recompute_references=False)
for pot in parse_potentials("chgnet,sevennet"):
    if shipped_reference_path(energy_model(pot).reference_tag) is not None:
        continue
    t = time.perf_counter()
    got, info = pa._reference_energies(pot, systems, ns, device)
    print(f"{pot}: {len(chosen[i::shards])} of {len(chosen)} references in this subset; {info}; "
          f"{time.perf_counter() - t:.1f} s", flush=True)
EOF
  PIDS+=($!)
done
for p in "${PIDS[@]}"; do wait "$p"; done
SEED=("$W"/rcache_*); [ -d "$DATA/cache" ] && SEED+=("$DATA/cache")
merge "$W/seed" "${SEED[@]}"
stamp "phase 1 done: $(cat "$W"/seed/*.jsonl 2>/dev/null | grep -c energy_per_atom) reference energies cached"
tail -n 2 "$W"/logs/refs_*.log >> "$W/logs/phases.log"

# phase 2: relaxations, one process per shard
T2=$(( $(left) - COMBINE_S )); [ "$T2" -ge 5 ] || T2=5
PIDS=()
for ((i = 0; i < RSHARDS; i++)); do
  for pot in chgnet sevennet; do
    mkdir -p "$W/cache_${i}_$pot"; cp "$W"/seed/*.jsonl "$W/cache_${i}_$pot/" 2>/dev/null
    timeout "$T2" python3 benchmarks/potential_agreement.py "$W/in/shard_$i" --potentials "$pot" \
      --device "$DEVICE" --steps "$STEPS" --threads "$THREADS" --references "$REFS" --cache "$W/cache_${i}_$pot" \
      --out "$W/shard_${i}_$pot" > "$W/logs/shard_${i}_$pot.log" 2>&1 &
    PIDS+=($!)
  done
done
for p in "${PIDS[@]}"; do wait "$p"; done
merge "$W/cache" "$W/seed" "$W"/cache_*
stamp "phase 2 done (limit $T2 s); relaxation records: $(wc -l "$W"/cache/relax-*.jsonl | tr '\n' ' ')"

# phase 3: combine the structures every potential finished (from the merged cache only)
mkdir -p "$W/in/final"
python3 - "$W/in/all" "$W/cache" "$W/in/final" "$DEVICE" "$STEPS" <<'EOF'
import shutil, sys
from pathlib import Path

from xtalgen.postprocess.relax import read_jsonl

src, cache, dest, device, steps = sys.argv[1:]
done = None
for pot in ("chgnet", "sevennet"):
    ids = set(read_jsonl(Path(cache) / f"relax-{pot}-{device}-fire{steps}-0.1.jsonl"))
    done = ids if done is None else done & ids
for p in sorted(Path(src).glob("*.cif")):
    if p.name in done or p.stem in done:
        shutil.copy(p, dest)
EOF
NF=$(ls "$W/in/final" | wc -l)
stamp "phase 3: $NF of $N structures relaxed by both potentials"
T3=$(left); [ "$T3" -ge 20 ] || T3=20
mkdir -p "$W/final"
if [ "$NF" -gt 0 ]; then
  timeout "$T3" python3 benchmarks/potential_agreement.py "$W/in/final" --device "$DEVICE" --steps "$STEPS" \
    --threads "$THREADS" --references "$REFS" --cache "$W/cache" --out "$W/final" > "$W/logs/final.log" 2>&1
  stamp "phase 3 done (rc $?)"
fi
{
  if [ -f "$W/final/agreement.md" ]; then cat "$W/final/agreement.md"; else echo "# E_hull agreement: no result"; fi
  echo
  echo "Run: $NF of $N structures relaxed by both potentials within the budget; $SHARDS processes sharing one"
  echo "GPU (and its host) at the same time, so the per-structure seconds above are under that sharing."
  echo
  echo '```'; cat "$W/logs/phases.log"; echo '```'
} > "$OUT/agreement.md"
cp "$W"/final/agreement.csv "$W/agreement.csv" 2>/dev/null
tar -czf "$OUT/agreement_data.tar.gz" -C "$W" logs cache $(cd "$W" && ls -d agreement.csv shard_* 2>/dev/null)
stamp "end"
cat "$OUT/agreement.md"
rm -rf "$W"
