"""benchmarks/head_to_head.py on a tiny setup: four tiny learned models + PyXtal, a 30-structure MP set.

Checks that the fragment has every model's rows and the comparison with the baseline, that its figures are
the evaluation outputs of the same run (the stability rates recomputed here from the per-sample files),
that a rerun redoes no stage, and the interval arithmetic against published worked examples.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import head_to_head as H
import head_to_head_report as R
import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Composition, Element, Structure

from xtalgen.configs import bundled_config

TAG = "fake-h2h"


def test_wilson_and_newcombe_match_published_examples():
    # Newcombe (1998), Stat. Med. 17:873, Table II, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339;
    # 9/10 - 3/10 -> 0.1705 to 0.8090; Wilson interval of 0/10: (0, 0.2775)
    lo, hi = R.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=5e-5)
    d, dlo, dhi = R.difference_interval(56, 70, 48, 80)
    assert d == pytest.approx(0.2) and (dlo, dhi) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert R.difference_interval(9, 10, 3, 10)[1:] == pytest.approx((0.1705, 0.8090), abs=5e-5)
    assert R.verdict(56, 70, 48, 80) == "higher" and R.verdict(1, 10, 2, 10).startswith("not distinguishable")
    with pytest.raises(ValueError, match="0 <= k <= n"):
        R.wilson_interval(3, 2)


def fake_energy(structure: Structure) -> float:
    """-0.05, 0, 0.05 or 0.1 eV/atom by the number of sites: a mix of stable, metastable and unstable."""
    return -0.05 + 0.05 * (len(structure) % 4)


class FakeEnergyModel:
    """Relaxation returns the structure unchanged with :func:`fake_energy`; references come from a table."""

    name = "fake energy model"
    relax_tag = TAG
    reference_tag = TAG

    def relax(self, items, *, cache_path, workers, progress):
        return {k: {"energy_per_atom": fake_energy(s), "rmsd": 0.0, "steps": 0, "converged": True,
                    "structure": s.as_dict()} for k, s in items}  # fmt: skip

    def energies(self, items, *, cache_path, workers, progress):
        raise AssertionError("the reference table should make reference energies unnecessary")


@pytest.fixture(scope="module")
def setup(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from pymatgen.core import Composition

    from xtalgen.data.prepare import PrepareFilters, prepare_dataset
    from xtalgen.evaluation.reference_table import table_from_rows, write_reference_table
    from xtalgen.pipelines.crystens.train import train_crystens
    from xtalgen.pipelines.pgcgm.train import train_pgcgm
    from xtalgen.representations.crystens import CrysTensConfig, encode_dataset

    root = tmp_path_factory.mktemp("h2h")
    torch.set_num_threads(1)
    mp = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=400)
    mp = mp[mp["nsites"] <= 6].head(30).copy()
    mp["split"] = ["train"] * 20 + ["test"] * 10
    mp.to_csv(root / "mp30.csv", index=False)
    data = prepare_dataset(root / "mp30.csv", root / "mp30.parquet", workers=1).path

    perov = pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=300)
    ternary = perov[perov["formula"].map(lambda f: len(Composition(f).elements) == 3)].head(30)
    ternary.drop(columns=["Unnamed: 0"]).to_csv(root / "perov.csv", index=False)
    filters = PrepareFilters(n_elements=frozenset({3}), n_base_sites=frozenset({3}))
    perov_data = prepare_dataset(root / "perov.csv", root / "perov.parquet", filters=filters, workers=1).path
    train_pgcgm(perov_data, bundled_config("pgcgm_tiny"), root / "pgcgm", overrides=["max_steps=2"])
    items = [(str(r.material_id), Structure.from_str(r.cif, fmt="cif")) for r in perov.head(8).itertuples()]
    encode_dataset(items, root / "perov.npy", CrysTensConfig(size=32), workers=1, progress=False)
    for kind in ("gan", "wgan", "diffusion"):
        train_crystens(kind, root / "perov.npy", bundled_config(f"crystens_{kind}_tiny"), root / kind,
                       overrides=["max_steps=2", "progress=false"])  # fmt: skip
    rows = [{"id": f"el-{z}", "formula": f"{Element.from_Z(z).symbol}1", "chemsys": Element.from_Z(z).symbol,
             "nsites": 1, "energy_per_atom": 0.0} for z in range(1, 95)]  # fmt: skip
    table = write_reference_table(table_from_rows(rows), root / "refs.parquet", {"reference_tag": TAG})
    return {"root": root, "data": data, "table": table}


def _row(text: str, label: str, header: str) -> list[str]:
    """Cells of the row of ``label`` in the table whose header line starts with ``header``."""
    block = text[text.index(header) :]
    for line in block.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r} under {header!r}")


def test_published_generation_anchors_have_one_full_row_per_model_with_its_source():
    lines = R.generation_anchor_lines()
    header = next(line for line in lines if line.startswith("| model |"))
    n_cols = len(header.strip("|").split("|"))
    rows = {
        line.split("|")[1].strip(): line for line in lines if line.startswith("| CDVAE") or line.startswith("| DiffCSP")
    }
    assert set(rows) == {"CDVAE", "DiffCSP"}
    for model, line in rows.items():
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == n_cols and all(cells), model
        assert all(float(c) >= 0 for c in cells[1:-1]) and "arxiv.org/abs/2309.04475" in cells[-1]
        assert tuple(cells[1:-1]) == R.MP20_GENERATION[model]
    assert any("10,000 generated samples" in line for line in lines)
    anchors = "\n".join(R.anchor_lines())
    assert rows["DiffCSP"] in anchors and "Not quoted:" in anchors


def test_head_to_head_tiny_run(setup, monkeypatch):
    root = setup["root"]
    monkeypatch.setattr(H, "make_energy_model", lambda args: FakeEnergyModel())
    work, out = root / "work", root / "docs" / "head_to_head.md"
    argv = ["--train", str(setup["data"]), "--n", "4", "--stability-n", "3", "--baseline-stability-n", "0",
            "--pgcgm-count", "candidates",
            "--workers", "1", "--no-plots",
            "--reference-energies", str(setup["table"]), "--work", str(work), "--out", str(out), "--no-assemble",
            "--sampling-steps", "2", "--paired-model", H.BASELINE, "--properties-n", "0"]  # fmt: skip
    runs = {"pgcgm": "pgcgm", "pgcgm-general": "pgcgm", "crystens-gan": "gan", "crystens-wgan": "wgan",
            "crystens-diffusion": "diffusion"}  # fmt: skip
    argv += [f"--checkpoint={kind}={root / run}" for kind, run in runs.items()]
    H.main(argv)
    text = out.read_text()
    kinds = [*H.LEARNED, H.BASELINE, H.PAIRED]
    for kind in kinds:  # every model in the quality, stability and speed tables, from this run's outputs
        metrics = json.loads((work / kind / "report" / "metrics.json").read_text())["metrics"]
        q = _row(text, R.LABELS[kind], "| model | samples | struct. valid")
        n_sub = len(pd.read_csv(work / kind / "generated" / "summary.csv"))
        assert q[1] == str(n_sub) and q[2] == R.fmt(metrics["validity.structural"], "pct")
        assert n_sub == 4 or kind == H.PAIRED
        assert q[4] == R.fmt(metrics["uniqueness"], "pct") and q[5] == R.fmt(metrics["novelty"], "pct")
        ps = pd.read_csv(work / kind / "report" / "per_sample.csv")
        m = 4 if kind == H.BASELINE else min(3, n_sub)  # --baseline-stability-n 0: all 4 baseline samples
        st = pd.read_csv(work / kind / f"stability_m{m}.csv")
        assert len(st) == m and set(st["id"]) <= set(ps["id"])
        gen = {s["id"]: s for s in ps.to_dict("records")}
        e = st["e_hull"].to_numpy(float)
        for sid, value in zip(st["id"], e, strict=True):  # the patched model was used, hull = elements at 0
            if gen[sid]["struct_valid"]:
                assert value == pytest.approx(-0.05 + 0.05 * (int(gen[sid]["nsites"]) % 4), abs=1e-6)
            else:
                assert np.isnan(value)
        ok = np.nan_to_num(e, nan=np.inf) <= 0.1
        un = np.array([gen[s].get("unique", 0) > 0 and gen[s].get("novel", 0) > 0 for s in st["id"]])
        s = _row(text, R.LABELS[kind], "| model | relaxed")
        by = H.stability_by_elements(ps, st)  # the split by number of elements covers the subset exactly
        assert sum(c["m"] for c in by.values()) == m
        assert sum(c["metastable"] for c in by.values()) == int(ok.sum())
        row = _row(text, R.LABELS[kind], "| model | 1 element")
        for group, cell in zip(["1", "2", "3", "≥4", "invalid"], row[1:], strict=True):
            c = by.get(group)
            assert cell == "–" if not c else cell.startswith(f"{c['metastable']}/{c['m']} ")
        assert s[1] == f"{m} of {n_sub}"
        # symmetry / diversity and SUN / MetaSUN / S.S.U.N. (the fake relaxation keeps every structure as is)
        d = _row(text, R.LABELS[kind], "| model | P1 share")
        assert d[1] == R.fmt(metrics.get("symmetry.p1_share"), "pct")
        assert d[2] == R.fmt(metrics.get("symmetry.n_spacegroups"), "int") and d[4] == R.fmt(
            metrics.get("symmetry.n_templates"), "int") and d[6] == R.fmt(metrics.get("diversity.vendi"))  # fmt: skip
        e_ok = np.nan_to_num(e, nan=np.inf)
        sun_row = _row(text, R.LABELS[kind], "| model | SUN (E_hull ≤ 0)")
        assert sun_row[1].endswith(f"({int(((e_ok <= 0) & un).sum())}/{m})")
        assert sun_row[2].endswith(f"({int(((e_ok > 0) & (e_ok <= 0.1) & un).sum())}/{m})")
        assert sun_row[3].endswith(f"({int((ok & un).sum())}/{m})")  # every structure keeps its group here
        kept = st["symmetry_kept"].to_numpy(float)
        assert np.all(kept[np.isfinite(e)] == 1.0)
        assert s[3].endswith(f"({int(ok.sum())}/{m})") and s[4].endswith(f"({int((ok & un).sum())}/{m})")
        speed = _row(text, R.LABELS[kind], "| model | generate wall")
        assert float(speed[2]) > 0 and float(speed[4]) > 0  # structures/s, peak RSS (MB)
    base = H.stability_counts(pd.read_csv(work / H.BASELINE / "report" / "per_sample.csv"),
                              pd.read_csv(work / H.BASELINE / "stability_m4.csv"))  # fmt: skip
    for kind in H.LEARNED:
        cov = _row(text, R.LABELS[kind], "| model | COV-R")
        assert cov[1] == _row(text, R.LABELS[kind], "| model | samples")[6]
        c = H.stability_counts(pd.read_csv(work / kind / "report" / "per_sample.csv"),
                               pd.read_csv(work / kind / "stability_m3.csv"))  # fmt: skip
        row = _row(text, R.LABELS[kind], "| model | Δ S.U.N.")
        assert row[1] == R.diff_cell(c["sun"], 3, base["sun"], 4)
        assert row[4] == R.diff_cell(c["metastable"], 3, base["metastable"], 4)
        rb = R.ratio_bootstrap(c["sun"], 3, base["sun"], 4)
        assert row[3].startswith(R._ratio_text(rb["ratio"]) + " [")
    # the paired baseline: exactly the space group and conventional-cell composition of each sample of the
    # paired model (here the PyXtal baseline itself: the tiny PGCGM accepts no structure to pair with)
    summary = pd.read_csv(work / H.PAIRED / "generated" / "summary.csv", dtype={"source_id": str})
    cond = pd.read_csv(work / H.PAIRED / "conditions.csv", dtype={"id": str}).set_index("id")
    assert summary["source_id"].isin(cond.index).all()
    for src, target, cif in zip(summary["source_id"], summary["target_spacegroup"], summary["cif"], strict=True):
        assert target == cond.loc[src, "spacegroup"]  # PyXtal's group (spglib may find a supergroup)
        if isinstance(cif, str):  # the CIF holds the cell of the group spglib finds: same formula and volume/atom
            s = Structure.from_file(work / H.PAIRED / "generated" / cif)
            assert s.composition.reduced_formula == Composition(cond.loc[src, "composition"]).reduced_formula
            assert s.volume / len(s) == pytest.approx(cond.loc[src, "volume_per_atom"], rel=1e-3)
    per = {k: pd.read_csv(work / k / "report" / "per_sample.csv") for k in (H.BASELINE, H.PAIRED)}
    stab = {H.BASELINE: pd.read_csv(work / H.BASELINE / "stability_m4.csv"),
            H.PAIRED: pd.read_csv(work / H.PAIRED / f"stability_m{min(3, len(per[H.PAIRED]))}.csv")}  # fmt: skip
    pairs = H.paired_table(per[H.BASELINE], stab[H.BASELINE], per[H.PAIRED], stab[H.PAIRED], summary)
    assert len(pairs) == len(stab[H.PAIRED])  # every relaxed paired sample has its relaxed source
    boot = R.paired_bootstrap(pairs["model_sun"], pairs["base_sun"], 10000, 0)
    label = R.LABELS[H.BASELINE]
    row = _row(text, "S.U.N.", f"| figure | {label} | paired PyXtal")
    assert row[1].endswith(f"({boot['k_a']}/{boot['n']})") and row[2].endswith(f"({boot['k_b']}/{boot['n']})")
    assert f"**{len(pairs)} pairs**" in text and f"## Issue 21 targets for {label}" in text
    assert all(d in text for d in R.DEFINITIONS)
    # sensitivity: the baseline put through PGCGM's default generation filters
    from xtalgen.pipelines.pgcgm.options import DEFAULT_PGCGM_DISTANCE_FACTOR
    from xtalgen.postprocess.filters import check_min_distance

    screened = pd.read_csv(work / H.BASELINE / "pgcgm_filters.csv")
    assert len(screened) == 4
    for sid, passes in zip(screened["id"], screened["passes"], strict=True):
        structure = Structure.from_file(work / H.BASELINE / "generated" / "cifs" / f"{sid}.cif")
        if passes:
            assert check_min_distance(structure, DEFAULT_PGCGM_DISTANCE_FACTOR).passed
    n_pass = int(screened["passes"].sum())
    assert (f"{n_pass} of 4 baseline structures pass" in text) == (n_pass > 0)
    assert "CrysTens Tables 1–2" in text and "| paper GAN | 582.23 |" in text
    assert "MatterGen-MP" in text and "Not quoted:" in text
    assert "\n".join(R.generation_anchor_lines()) in text  # published CDVAE / DiffCSP MP-20 rows
    assert re.search(r"training samples/s", text)
    assert "(2 × " in _row(text, "PGCGM ternary", "| model | generate wall")[-1]

    stages = (work / "stages.json").read_text()
    mtime = (work / "pgcgm" / "generated" / "summary.csv").stat().st_mtime
    H.main(argv)  # a rerun redoes no stage
    assert (work / "stages.json").read_text() == stages
    assert (work / "pgcgm" / "generated" / "summary.csv").stat().st_mtime == mtime


def test_paired_bootstrap_counts_and_intervals():
    a = np.array([True] * 30 + [False] * 70)
    b = np.array([True] * 10 + [False] * 90)
    out = R.paired_bootstrap(a, b, 4000, 1)
    assert (out["k_a"], out["k_b"], out["n"]) == (30, 10, 100) and out["ratio"] == pytest.approx(3.0)
    lo, hi = out["ratio_ci"]
    assert 1.5 < lo < 3.0 < hi  # a clear ratio: the interval lies above 1 and holds the estimate
    assert out["rate_a_ci"][0] < 0.3 < out["rate_a_ci"][1]
    same = R.paired_bootstrap(a, a, 2000, 1)  # identical outcomes: the ratio is exactly 1 in every resample
    assert same["ratio_ci"] == pytest.approx((1.0, 1.0)) and same["diff_ci"] == pytest.approx((0.0, 0.0))
    assert R.paired_bootstrap(a, np.zeros(100, bool), 100, 0)["ratio"] == float("inf")
    with pytest.raises(ValueError, match="equal-length"):
        R.paired_bootstrap(a, b[:5])
    r = R.ratio_bootstrap(30, 100, 10, 100, 4000, 1)
    assert r["ratio"] == pytest.approx(3.0) and r["ratio_ci"][0] > 1.0


def test_plots_are_copied_next_to_the_fragment_and_relinked_for_the_assembled_page(tmp_path):
    import argparse

    import assemble_docs

    args = argparse.Namespace(work=tmp_path / "work", out=tmp_path / "docs" / "benchmarks" / "head_to_head.md")
    plots = args.work / "pgcgm" / "report" / "plots"
    plots.mkdir(parents=True)
    (plots / "e_hull.png").write_bytes(b"png")
    links = H.copy_plots(["pgcgm", "pyxtal-random"], args)
    assert links == {"pgcgm": ["[e_hull](head_to_head/pgcgm_e_hull.png)"]}
    assert (args.out.parent / "head_to_head" / "pgcgm_e_hull.png").read_bytes() == b"png"
    text = assemble_docs.relink(links["pgcgm"][0] + " [web](https://x.org/a.png) [gone](head_to_head/no.png)",
                                args.out.parent)  # fmt: skip
    assert text == "[e_hull](benchmarks/head_to_head/pgcgm_e_hull.png) [web](https://x.org/a.png) " \
                   "[gone](head_to_head/no.png)"  # fmt: skip


def test_property_section_reads_the_run_and_draws_violins(tmp_path):
    """The property table shows each model's K–S values from its run files, only for relaxed samples,
    with a violin plot per model; a model without property files is left out."""
    import argparse

    work, out = tmp_path / "work", tmp_path / "docs" / "head_to_head.md"
    (work / "pgcgm").mkdir(parents=True)
    (work / "crystens-gan").mkdir(parents=True)
    ids = [f"s{i}" for i in range(6)]
    pd.DataFrame({"id": ids, "energy_per_atom": [-5.0, -4.0, np.nan, -3.0, -2.0, -1.0]}).to_csv(
        work / "pgcgm" / "stability_m6.csv", index=False)
    pd.DataFrame({"id": ids, "formation_energy_per_atom": [-1.0, -0.5, 9.0, 0.1, 0.2, 0.3],
                  "magmom_per_atom": 0.0, "bulk_modulus": [50.0, 60, 70, 80, 90, 100],
                  "relaxed_density": 5.0, "e_hull": [0.0, 0.1, 5.0, 0.2, 0.3, 0.4]}).to_csv(
        work / "pgcgm" / "stability_m6_properties.csv", index=False)  # fmt: skip
    metrics = {"properties.ks.formation_energy": 0.4321, "properties.n_generated": 5, "properties.n_reference": 4,
               "properties.median.bulk_modulus": 80.0, "properties.reference_median.bulk_modulus": 120.0}
    (work / "pgcgm" / "stability_m6_properties.json").write_text(json.dumps(metrics))
    pd.DataFrame({"id": ["r1", "r2", "r3", "r4"], "formation_energy_per_atom": [-2.0, -1.5, -1.0, -0.5],
                  "magmom_per_atom": 0.1, "bulk_modulus": [100.0, 110, 120, 130], "relaxed_density": 4.0,
                  "e_hull": 0.0}).to_csv(work / "pgcgm" / "properties_reference.csv", index=False)  # fmt: skip
    args = argparse.Namespace(work=work, out=out)
    props = H.property_results(["pgcgm", "crystens-gan"], {"pgcgm": 6, "crystens-gan": 6}, args)
    assert list(props) == ["pgcgm"]
    assert (out.parent / "head_to_head" / "pgcgm_properties.png").stat().st_size > 1000
    text = "\n".join(R.property_lines(props))
    assert "0.432" in text and "5 / 4" in text and "80 / 120" in text and "CGCNN surrogate" in text
    assert H.property_results(["pgcgm"], None, args) == {}
