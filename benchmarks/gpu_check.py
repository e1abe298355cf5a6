"""Python steps of ``benchmarks/gpu_check.sh``: timed xtalgen runs on one CUDA device and their summary.

Sub-commands (each appends one JSON line to ``$GPU_CHECK_RESULTS`` under the step name ``$GPU_CHECK_STEP``):

* ``cli -- ARGS``: run the ``xtalgen`` command in this process; record peak GPU memory (GiB).
* ``crystens-sample RUN -o DIR``: sample a trained CrysTens model on a device (the CLI samples on the CPU),
  decode on the CPU; record sampling and decoding seconds.
* ``chgnet-relax SRC -o DIR``: relax CIFs with CHGNet on a device, the settings of ``xtalgen relax``
  (FIRE, cell free); record seconds per structure and energies (eV/atom).
* ``sevennet-static SRC``: SevenNet (7net-l3i5) static energies (eV/atom) of CIFs on a device.
* ``summary``: write ``gpu_summary.md`` from the records, the training logs and the nvidia-smi samples.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any


def _record(**fields: Any) -> None:
    """Append one JSON line (with the step name) to the results file, if one is set."""
    path = os.environ.get("GPU_CHECK_RESULTS")
    row = {"step": os.environ.get("GPU_CHECK_STEP", "?"), **fields}
    print("RESULT " + json.dumps(row), flush=True)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def _cuda_reset() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _cuda_peak() -> dict[str, float]:
    """Peak memory of this process on the current CUDA device (GiB), or nothing without CUDA."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return {}
    return {
        "peak_alloc_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3),
    }


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def cmd_cli(args: list[str]) -> int:
    """Run ``xtalgen ARGS`` in-process (so this process sees its GPU memory); record the outcome."""
    from xtalgen.cli.main import app

    _cuda_reset()
    start = time.perf_counter()
    code = 0
    try:
        ret = app(args, standalone_mode=False)
        code = ret if isinstance(ret, int) else 0
    except SystemExit as exc:  # typer.Exit / click exits
        code = int(exc.code or 0)
    except Exception as exc:  # recorded, then re-raised for the log
        _record(ok=False, error=f"{type(exc).__name__}: {exc}"[:300], py_wall_s=round(time.perf_counter() - start, 2))
        raise
    _record(ok=code == 0, exit_code=code, py_wall_s=round(time.perf_counter() - start, 2), **_cuda_peak())
    return code


def cmd_crystens_sample(ns: argparse.Namespace) -> int:
    import numpy as np
    import torch

    try:  # the module layout after the pipelines/crystens/ split, else the earlier one
        from xtalgen.pipelines.crystens.decode import decode_to_generation
        from xtalgen.pipelines.crystens.load import load_crystens_model
    except ImportError:
        from xtalgen.pipelines.crystens_generate import decode_to_generation, load_crystens_model

    device = ns.device
    t0 = time.perf_counter()
    kind, module, _cfg, ct = load_crystens_model(ns.run)
    module = module.to(device)
    load_s = time.perf_counter() - t0
    _cuda_reset()
    gen = torch.Generator(device=device).manual_seed(ns.seed)
    use_bf16 = device.startswith("cuda") and not ns.fp32
    out = []
    _sync(device)
    t1 = time.perf_counter()
    for start in range(0, ns.n, ns.batch):
        b = min(ns.batch, ns.n - start)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            if kind == "diffusion":
                x = module.sample(b, steps=ns.steps, generator=gen)
            else:
                x = module(torch.randn(b, module.latent_dim, generator=gen, device=device))
        out.append(x.float().cpu().numpy())
    _sync(device)
    sample_s = time.perf_counter() - t1
    raw = np.concatenate(out)
    t2 = time.perf_counter()
    summary = decode_to_generation(
        raw, ct, ns.output, label=f"crystens-{kind}", workers=ns.workers, progress=False,
        meta={"model": f"crystens-{kind}", "checkpoint": str(ns.run), "n": ns.n, "seed": ns.seed, "device": device},
    )  # fmt: skip
    decode_s = time.perf_counter() - t2
    with open(summary, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    accepted = sum(r.get("accepted", "").lower() in ("true", "1") for r in rows)
    _record(
        ok=True, kind=kind, device=device, n=ns.n, sampling_steps=ns.steps, bf16=use_bf16,
        load_s=round(load_s, 2), sample_s=round(sample_s, 2), samples_per_s=round(ns.n / sample_s, 2),
        decode_s=round(decode_s, 2), accepted=accepted, **_cuda_peak(),
    )  # fmt: skip
    return 0


def _read_cifs(src: Path, n: int) -> list[tuple[str, Any]]:
    from pymatgen.core import Structure

    files = sorted(p for p in src.iterdir() if p.suffix == ".cif")[:n]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            out.append((path.stem, Structure.from_file(path)))
    return out


def cmd_chgnet_relax(ns: argparse.Namespace) -> int:
    """CHGNet 0.3.0 relaxation on ``device`` with the settings of :func:`xtalgen.postprocess.relax.relax_structure`."""
    import contextlib
    import io

    import torch
    from chgnet.model import CHGNet, StructOptimizer

    torch.set_num_threads(max(1, ns.threads))
    structures = _read_cifs(Path(ns.source), ns.n)
    out = Path(ns.output)
    (out / "cifs").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        model = CHGNet.load(model_name="0.3.0", use_device=ns.device, verbose=False)
        optimizer = StructOptimizer(model=model, optimizer_class="FIRE", use_device=ns.device)
    load_s = time.perf_counter() - t0
    _cuda_reset()
    rows, times, total_steps = [], [], 0
    start = time.perf_counter()
    for key, structure in structures:
        if ns.max_seconds and time.perf_counter() - start > ns.max_seconds:
            print(f"stopping after {len(rows)} structures: --max-seconds {ns.max_seconds} reached", flush=True)
            break
        t = time.perf_counter()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                result = optimizer.relax(structure, fmax=ns.fmax, steps=ns.steps, relax_cell=True, verbose=False)
                final = result["final_structure"]
                pred = model.predict_structure(final, task="ef")
            steps = max(len(result["trajectory"].energies) - 1, 0)
            row = {"id": key, "nsites": len(structure), "energy_per_atom": float(pred["e"]), "steps": steps,
                   "max_force": float((pred["f"] ** 2).sum(axis=1).max() ** 0.5)}  # fmt: skip
            final.to(filename=str(out / "cifs" / f"{key}.cif"))
            total_steps += steps
        except Exception as exc:  # one failing structure is recorded, the run goes on
            row = {"id": key, "nsites": len(structure), "error": f"{type(exc).__name__}: {exc}"[:200]}
        row["seconds"] = round(time.perf_counter() - t, 3)
        times.append(row["seconds"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    _sync(ns.device)
    wall = time.perf_counter() - start
    with open(out / "relax.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    _record(
        ok=True, device=ns.device, n=len(rows), failed=sum("error" in r for r in rows), max_steps=ns.steps,
        load_s=round(load_s, 2), relax_s=round(wall, 2), s_per_structure=round(wall / max(len(rows), 1), 3),
        median_s=round(statistics.median(times), 3) if times else None, fire_steps=total_steps,
        ms_per_fire_step=round(1000 * wall / max(total_steps, 1), 2), **_cuda_peak(),
    )  # fmt: skip
    return 0


def cmd_sevennet_static(ns: argparse.Namespace) -> int:
    """SevenNet 7net-l3i5 static energies (eV/atom) of the CIFs in ``source`` on ``device``."""
    from pymatgen.io.ase import AseAtomsAdaptor
    from sevenn.calculator import SevenNetCalculator

    structures = _read_cifs(Path(ns.source), ns.n)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calc = SevenNetCalculator(model="7net-l3i5", device=ns.device)
    load_s = time.perf_counter() - t0
    _cuda_reset()
    energies: dict[str, float] = {}
    start = time.perf_counter()
    for key, structure in structures:
        if ns.max_seconds and time.perf_counter() - start > ns.max_seconds:
            break
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calc
        energies[key] = float(atoms.get_potential_energy()) / len(atoms)
    _sync(ns.device)
    wall = time.perf_counter() - start
    if ns.output:
        Path(ns.output).write_text(json.dumps(energies, indent=1), encoding="utf-8")
    _record(
        ok=True, device=ns.device, n=len(energies), load_s=round(load_s, 2), static_s=round(wall, 2),
        s_per_structure=round(wall / max(len(energies), 1), 3), **_cuda_peak(),
    )  # fmt: skip
    return 0


# --- summary ---------------------------------------------------------------------------------------
def _nvsmi_samples(path: Path) -> list[tuple[float, float, float]]:
    """(epoch seconds, GPU utilisation %, memory used MiB) from ``nvidia-smi --query-gpu=timestamp,...``."""
    samples = []
    if not path.is_file():
        return samples
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            stamp = datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
            samples.append((stamp, float(parts[1]), float(parts[2])))
        except ValueError:
            continue
    return samples


def _train_rates(run: Path) -> dict[str, Any]:
    """Steps/s from a run's ``logs/metrics.csv`` (samples/s over batch size), first interval (warm-up) apart."""
    metrics, config = run / "logs" / "metrics.csv", run / "config.yaml"
    if not metrics.is_file() or not config.is_file():
        return {}
    import yaml

    batch = int(yaml.safe_load(config.read_text(encoding="utf-8")).get("batch_size", 1))
    with open(metrics, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("samples_per_s")]
    if not rows:
        return {}
    rates = [float(r["samples_per_s"]) / batch for r in rows]
    steady = rates[1:] or rates
    return {
        "steps_done": int(float(rows[-1]["step"])),
        "batch": batch,
        "steps_per_s": round(statistics.median(steady), 2),
        "first_interval_steps_per_s": round(rates[0], 2),
    }


def cmd_summary(ns: argparse.Namespace) -> int:
    results = Path(ns.results)
    steps: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for line in results.read_text(encoding="utf-8").splitlines() if results.is_file() else []:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        name = row.pop("step", "?")
        if name not in steps:
            order.append(name)
        steps.setdefault(name, {}).update(row)
    samples = _nvsmi_samples(Path(ns.nvsmi)) if ns.nvsmi else []
    lines = [
        "# xtalgen GPU check", "", f"{ns.header}", "",
        "| step | rc | wall s | steps/s (steady) | samples/s | peak alloc GiB | GPU mem used max MiB "
        "| GPU util mean % | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name in order:
        row = steps[name]
        if row.get("run"):
            row.update(_train_rates(Path(row["run"])))
        util = mem = ""
        if samples and "start" in row and "end" in row:
            window = [s for s in samples if float(row["start"]) <= s[0] <= float(row["end"])]
            if window:
                util = f"{statistics.mean(s[1] for s in window):.0f}"
                mem = f"{max(s[2] for s in window):.0f}"
        notes = []
        for key in ("steps_done", "batch", "first_interval_steps_per_s", "sample_s", "decode_s", "accepted",
                    "relax_s", "s_per_structure", "ms_per_fire_step", "fire_steps", "failed", "static_s", "load_s",
                    "error"):  # fmt: skip
            if key in row:
                notes.append(f"{key}={row[key]}")
        wall = row.get("wall_s", "")
        lines.append(
            f"| {name} | {row.get('rc', '')} | {wall} | {row.get('steps_per_s', '')} | {row.get('samples_per_s', '')} "
            f"| {row.get('peak_alloc_gib', '')} | {mem} | {util} | {' '.join(notes)} |"
        )
    extra = _energy_agreement(Path(ns.work)) if ns.work else ""
    if extra:
        lines += ["", extra]
    agreement = Path(ns.work) / "agreement" / "agreement.md" if ns.work else None
    if agreement is not None and agreement.is_file():  # benchmarks/potential_agreement.py's report
        text = agreement.read_text(encoding="utf-8")
        lines += ["", "#" + text if text.startswith("# ") else text]
    Path(ns.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


def _energy_agreement(work: Path) -> str:
    """Mean |E_cuda - E_cpu| (eV/atom) of the CHGNet relaxations on both devices, when both ran."""
    gpu, cpu = work / "relax_cuda" / "relax.jsonl", work / "relax_cpu" / "summary.csv"
    if not gpu.is_file() or not cpu.is_file():
        return ""
    e_gpu = {}
    for line in gpu.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "energy_per_atom" in row:
            e_gpu[row["id"]] = float(row["energy_per_atom"])
    with open(cpu, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("energy_per_atom")]
    # `xtalgen relax` on a folder of CIFs keeps the file extension in its ids
    e_cpu = {r["id"].removesuffix(".cif"): float(r["energy_per_atom"]) for r in rows}
    common = sorted(set(e_gpu) & set(e_cpu))
    if not common:
        return ""
    diffs = [abs(e_gpu[k] - e_cpu[k]) for k in common]
    return (
        f"CHGNet relaxed energy, cuda vs `xtalgen relax` on CPU, {len(common)} structures: mean |dE| "
        f"{statistics.mean(diffs):.4f} eV/atom, max {max(diffs):.4f}, within 0.01 eV/atom: "
        f"{sum(d <= 0.01 for d in diffs)}/{len(common)}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "cli":
        rest = argv[1:]
        return cmd_cli(rest[1:] if rest and rest[0] == "--" else rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("crystens-sample")
    p.add_argument("run")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast on CUDA")
    p = sub.add_parser("chgnet-relax")
    p.add_argument("source")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--fmax", type=float, default=0.1)
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--max-seconds", type=float, default=0, help="stop starting new structures after this (0: no limit)")
    p = sub.add_parser("sevennet-static")
    p.add_argument("source")
    p.add_argument("-n", type=int, default=50)
    p.add_argument("--device", default="cuda")
    p.add_argument("-o", "--output", default="")
    p.add_argument("--max-seconds", type=float, default=0, help="stop starting new structures after this (0: no limit)")
    p = sub.add_parser("summary")
    p.add_argument("--results", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--nvsmi", default="")
    p.add_argument("--work", default="")
    p.add_argument("--header", default="")
    ns = parser.parse_args(argv)
    handlers = {"crystens-sample": cmd_crystens_sample, "chgnet-relax": cmd_chgnet_relax,
                "sevennet-static": cmd_sevennet_static, "summary": cmd_summary}  # fmt: skip
    return handlers[ns.cmd](ns)


if __name__ == "__main__":
    sys.exit(main())
