"""CrysTens training and generation pipelines on a small encoded Perov-5 slice (N = 32, tiny configs)."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Composition, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.configs import CONFIG_DIR
from xtalgen.models.crystens.mirror_average import present_atoms, symmetrise
from xtalgen.pipelines.crystens.decode import _decode_one
from xtalgen.pipelines.crystens.load import load_crystens_model
from xtalgen.pipelines.crystens.sample import composition_vector, generate_crystens, sample_tensors
from xtalgen.pipelines.crystens.train import conditions_from_tensors, load_crystens_config, train_crystens
from xtalgen.pipelines.training import ConfigError, load_checkpoint
from xtalgen.representations.crystens import CrysTensConfig, DecodeOptions, encode_dataset, load_encoded

CONFIGS = CONFIG_DIR


@pytest.fixture(scope="module")
def perov(shared_datasets, tmp_path_factory):
    """24 Perov-5 structures encoded as N = 32 CrysTens; returns (npy path, structures)."""
    frame = pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=24)
    items = [(str(r.material_id), Structure.from_str(r.cif, fmt="cif")) for r in frame.itertuples()]
    out = tmp_path_factory.mktemp("perov") / "perov.npy"
    report = encode_dataset(items, out, CrysTensConfig(size=32), workers=1, progress=False)
    assert report.encoded == 24
    return out, [s for _, s in items]


def test_conditions_read_from_tensors_match_structures(perov):
    path, structures = perov
    enc = load_encoded(path)
    sg, counts = conditions_from_tensors(enc.tensors, enc.config)
    expected_sg = [SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number() for s in structures]
    assert sg.tolist() == expected_sg
    for row, s in zip(counts, structures, strict=True):
        # the encoded cell may be a supercell of the reduced formula: compare proportions
        got = {z + 1: v for z, v in enumerate(row) if v}
        want = {el.Z: amt for el, amt in s.composition.items()}
        scale = sum(got.values()) / sum(want.values())
        assert got == {z: a * scale for z, a in want.items()}


def test_symmetrise_then_decode_recovers_an_encoded_crystal(perov):
    """Mirror-inconsistent noise is removed exactly by symmetrisation, and the decoder gets the crystal back."""
    path, structures = perov
    enc = load_encoded(path)
    t = torch.from_numpy(np.array(enc.tensors[0]))
    center, thr = float(enc.config.difference.normalise(0.0)), enc.config.presence_threshold
    torch.testing.assert_close(symmetrise(t, center=center, presence_threshold=thr), t, atol=1e-7, rtol=0)
    e = 0.01 * torch.randn(t.shape, generator=torch.Generator().manual_seed(0))
    assert torch.equal(present_atoms(t + e, thr), present_atoms(t, thr))
    noise = (t + e) - symmetrise(t + e, center=center, presence_threshold=thr)  # mirror-inconsistent part
    noisy = t + noise
    sym = symmetrise(noisy, center=center, presence_threshold=thr)
    torch.testing.assert_close(sym, t, atol=1e-6, rtol=0)
    structure, info = _decode_one((sym.numpy(), noisy.numpy(), enc.config.to_dict(), DecodeOptions(), None, None))
    assert structure is not None and info["decoded"]
    assert structure.composition.reduced_formula == structures[0].composition.reduced_formula
    assert SpacegroupAnalyzer(structure, 0.1).get_space_group_number() == 221
    assert info["sym_var_length"] < 1e-8  # the decoded (symmetrised) tensor is exact
    assert info["var_length"] > 1e-6  # the raw output was not: the plain metrics see the noise


@pytest.mark.parametrize(
    ("kind", "columns"),
    [("gan", {"d_loss", "g_loss"}), ("wgan", {"critic_loss", "gp", "wasserstein", "g_loss"}), ("diffusion", {"loss"})],
)
def test_train_and_generate_each_kind(perov, tmp_path, kind, columns):
    path, _ = perov
    cfg_file = CONFIGS / f"crystens_{kind}_tiny.yaml"
    final = train_crystens(kind, path, cfg_file, tmp_path / "run")
    cfg = load_crystens_config(kind, cfg_file)
    assert final.name == f"step_{cfg.max_steps:09d}" and load_checkpoint(final).step == cfg.max_steps
    with open(tmp_path / "run" / "logs" / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == cfg.max_steps and columns <= set(rows[0])
    assert all(np.isfinite(float(r[c])) for r in rows for c in columns if r[c] not in ("", "nan"))
    k, module, _, ct = load_crystens_model(tmp_path / "run")
    assert k == kind and ct.size == 32
    summary = generate_crystens(5, tmp_path / "gen", checkpoint=tmp_path / "run", seed=1, workers=1,
                                sampling_steps=3, progress=False)  # fmt: skip
    frame = pd.read_csv(summary)
    assert len(frame) == 5 and frame["model"].eq(f"crystens-{kind}").all()
    assert {"asymmetry", "var_length", "sym_var_length", "coord_agreement", "n_atoms", "spacegroup_stated"} <= set(
        frame
    )
    for cif in frame.loc[frame["accepted"], "cif"]:
        assert (tmp_path / "gen" / cif).is_file()
    # same seed, same samples
    a = sample_tensors(kind, module, 3, seed=4, sampling_steps=2, progress=False)
    b = sample_tensors(kind, module, 3, seed=4, sampling_steps=2, progress=False)
    assert a.shape == (3, 4, 32, 32) and np.array_equal(a, b)
    if kind != "diffusion":
        with pytest.raises(ValueError, match="conditional crystens-diffusion"):
            sample_tensors(kind, module, 2, spacegroup=221, progress=False)


def test_conditional_diffusion_with_guidance(perov, tmp_path):
    path, _ = perov
    run = tmp_path / "cond"
    train_crystens("diffusion", path, CONFIGS / "crystens_diffusion_tiny.yaml", run,
                   overrides=["conditioning.enabled=true", "max_steps=3"])  # fmt: skip
    _, module, cfg, _ = load_crystens_model(run)
    assert module.conditional and cfg.conditioning.enabled
    summary = generate_crystens(3, tmp_path / "gen", checkpoint=run, spacegroup=221, formula="SrTiO3",
                                guidance_scale=3.0, sampling_steps=3, workers=1, progress=False)  # fmt: skip
    frame = pd.read_csv(summary)
    assert len(frame) == 3 and (frame["spacegroup_requested"] == 221).all()
    assert (frame["formula_requested"] == "SrTiO3").all()
    comp = composition_vector("SrTiO3", 100)
    assert comp[37] == pytest.approx(0.2) and comp[7] == pytest.approx(0.6)  # Sr (Z=38), O (Z=8)
    with pytest.raises(ValueError, match="1..230"):
        sample_tensors("diffusion", module, 2, spacegroup=231, progress=False)
    for bad in ("Xx2", "Sr(("):
        with pytest.raises(ValueError, match="formula"):
            composition_vector(bad, 100)
    with pytest.raises(ValueError, match="beyond the model's 10 elements"):
        composition_vector("SrTiO3", 10)


def test_resume_through_the_pipeline_and_config_errors(perov, tmp_path):
    path, _ = perov
    cfg = CONFIGS / "crystens_diffusion_tiny.yaml"
    train_crystens("diffusion", path, cfg, tmp_path / "r", overrides=["max_steps=2"])
    final = train_crystens("diffusion", path, cfg, tmp_path / "r", resume=True, overrides=["max_steps=4"])
    assert final.name == "step_000000004"
    with open(tmp_path / "r" / "logs" / "metrics.csv") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="kind: must be one of"):
        train_crystens("vae", path, cfg, tmp_path / "x")
    with pytest.raises(ConfigError, match="unknown key model.widht"):
        train_crystens("gan", path, CONFIGS / "crystens_gan_tiny.yaml", tmp_path / "x", overrides=["model.widht=3"])
    with pytest.raises(FileNotFoundError):
        train_crystens("gan", tmp_path / "missing.npy", CONFIGS / "crystens_gan_tiny.yaml", tmp_path / "x")
    with pytest.raises(ValueError, match="no CrysTens checkpoint"):
        generate_crystens(2, tmp_path / "g", checkpoint=None)


def test_generation_with_imputation_gives_the_requested_formula(perov, tmp_path):
    """A 3-step conditional model: imputation makes every decoded sample NaCl stating 225; the CLI is wired."""
    from typer.testing import CliRunner

    from xtalgen.cli.main import app
    from xtalgen.pipelines.crystens.sample import request_imputation

    path, _ = perov
    run = tmp_path / "cond"
    train_crystens("diffusion", path, CONFIGS / "crystens_diffusion_tiny.yaml", run,
                   overrides=["conditioning.enabled=true", "max_steps=3"])  # fmt: skip
    summary = generate_crystens(4, tmp_path / "gen", checkpoint=run, spacegroup=225, formula="NaCl",
                                sampling_steps=3, workers=1, save_tensors=True, progress=False)  # fmt: skip
    frame = pd.read_csv(summary)
    assert frame["imputed"].all() and (frame["cell_atoms_imputed"] == 8).all()
    assert (frame["n_atoms"] == 8).all() and (frame["spacegroup_stated"] == 225).all()
    decoded = frame[frame["accepted"].astype(bool)]
    assert len(decoded) > 0 and (decoded["formula"].map(lambda f: Composition(f).reduced_formula) == "NaCl").all()
    _, _, _, ct = load_crystens_model(run)
    impute, numbers = request_imputation(ct, 225, "NaCl")
    raw = np.load(tmp_path / "gen" / "tensors.npy")
    mask = impute.mask.numpy()
    assert np.array_equal(raw[:, mask], np.broadcast_to(impute.values.numpy(), raw.shape)[:, mask])
    assert sorted(numbers.tolist()) == [11] * 4 + [17] * 4

    plain = pd.read_csv(generate_crystens(4, tmp_path / "plain", checkpoint=run, spacegroup=225, formula="NaCl",
                                          impute=False, sampling_steps=3, workers=1, progress=False))  # fmt: skip
    assert not plain["imputed"].any() and (plain["spacegroup_stated"] != 225).any()

    sg_only = pd.read_csv(generate_crystens(3, tmp_path / "sg", checkpoint=run, spacegroup=62, impute=True,
                                            sampling_steps=3, workers=1, progress=False))  # fmt: skip
    assert sg_only["imputed"].all() and (sg_only["n_atoms"] > 0).any()
    assert (sg_only.loc[sg_only["n_atoms"] > 0, "spacegroup_stated"] == 62).all()
    with pytest.raises(ValueError, match="22 atoms"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, formula="NaCl", formula_units=11, progress=False)
    with pytest.raises(ValueError, match="formula_units: only used with imputation"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, formula="NaCl", impute=False, formula_units=2)

    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["generate", "--model", "crystens-diffusion", "--checkpoint", str(run), "-n", "2",
                                 "--steps", "3", "--workers", "1", "--spacegroup", "221", "--formula", "SrTiO3",
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out / "summary.csv")
    assert cli["imputed"].all() and (cli["n_atoms"] == 5).all() and (cli["spacegroup_stated"] == 221).all()
    bad = ["--formula", "LiFePO4", "--spacegroup", "62", "-o", str(tmp_path / "bad")]
    result = runner.invoke(app, ["generate", "--model", "crystens-diffusion", "--checkpoint", str(run), *bad])
    assert result.exit_code == 1 and "no cell built from its Wyckoff positions" in result.output
    result = runner.invoke(app, ["generate", "--model", "crystens-gan", "--checkpoint", str(run), "--impute",
                                 "-o", str(tmp_path / "gan")])  # fmt: skip
    assert result.exit_code == 2 and "no such option: --impute" in result.output


def test_generation_with_symmetry_projection(perov, tmp_path):
    """Projection is on by default with imputation + space group + formula: decoded samples are NaCl in 225
    (spglib) with the displacement recorded; --no-project-symmetry turns it off; impossible requests are named."""
    from typer.testing import CliRunner

    from xtalgen.cli.main import app

    path, _ = perov
    run = tmp_path / "uncond"
    train_crystens("diffusion", path, CONFIGS / "crystens_diffusion_tiny.yaml", run, overrides=["max_steps=2"])
    frame = pd.read_csv(generate_crystens(3, tmp_path / "proj", checkpoint=run, spacegroup=225, formula="NaCl",
                                          impute=True, sampling_steps=3, workers=1, progress=False))  # fmt: skip
    assert frame["symmetry_projected"].all() and frame["accepted"].all()
    assert (frame["formula"] == "NaCl").all() and (frame["spacegroup"] == 225).all()
    assert (frame["projection_rms_displacement"] <= frame["projection_max_displacement"]).all()
    assert (frame["projection_rms_displacement"] > 0).all() and frame["wyckoff"].str.contains("11:4").all()
    with pytest.raises(ValueError, match="needs a space group and a formula"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, spacegroup=225, impute=True, project_symmetry=True)
    with pytest.raises(ValueError, match="needs imputation"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, spacegroup=225, formula="NaCl", impute=False,
                          project_symmetry=True)  # fmt: skip
    with pytest.raises(ValueError, match="no combination of Wyckoff positions"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, spacegroup=225, formula="NaCl", formula_units=1,
                          progress=False)  # fmt: skip

    runner = CliRunner()
    out = tmp_path / "cli"
    result = runner.invoke(app, ["generate", "--model", "crystens-diffusion", "--checkpoint", str(run), "-n", "2",
                                 "--steps", "2", "--workers", "1", "--spacegroup", "225", "--formula", "NaCl",
                                 "--no-project-symmetry", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out / "summary.csv")
    assert cli["imputed"].all() and not cli["symmetry_projected"].any()
    assert "projection_rms_displacement" not in cli.columns
    result = runner.invoke(app, ["generate", "--model", "crystens-gan", "--checkpoint", str(run), "--project-symmetry",
                                 "-o", str(tmp_path / "gan")])  # fmt: skip
    assert result.exit_code == 2 and "no such option: --project-symmetry" in result.output


def test_generation_with_occupancy_lock(perov, tmp_path, monkeypatch):
    """Sampling returns encoded Perov-5 tensors with one phantom slot each: the lock removes exactly it."""
    from typer.testing import CliRunner

    import xtalgen.pipelines.crystens.sample as gen_module
    from xtalgen.cli.main import app
    from xtalgen.models.crystens import OccupancyLock
    from xtalgen.models.crystens.occupancy_lock import phantom_slots
    from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_Z

    path, _ = perov
    ct = CrysTensConfig(size=32)
    clean = np.load(path)[:4].astype(np.float32)
    phantom = clean.copy()
    phantom[:, :, ROW_Z, FIRST_ATOM + 10] = phantom[:, :, FIRST_ATOM + 10, ROW_Z] = ct.presence_threshold + 0.02
    seen = {}

    def fake_sample(kind, module, n, *, impute=None, **kwargs):
        seen["hook"] = impute
        x = torch.from_numpy(phantom[:n].copy())
        return (impute.apply(x) if impute is not None else x).numpy()

    monkeypatch.setattr(gen_module, "sample_tensors", fake_sample)
    run = tmp_path / "diff"
    train_crystens("diffusion", path, CONFIGS / "crystens_diffusion_tiny.yaml", run, overrides=["max_steps=2"])
    kw = {"checkpoint": run, "workers": 1, "save_tensors": True, "progress": False}
    plain = pd.read_csv(generate_crystens(4, tmp_path / "plain", **kw))
    assert seen["hook"] is None and (plain["n_atoms"] == 6).all() and "slots_locked" not in plain
    locked = pd.read_csv(generate_crystens(4, tmp_path / "locked", occupancy_lock=0.5, **kw))
    assert isinstance(seen["hook"], OccupancyLock) and seen["hook"].start == 0.5
    assert (locked["occupancy_lock"] == 0.5).all() and (locked["slots_locked"] == 1).all()
    assert (locked["n_atoms"] == 5).all()
    raw = torch.from_numpy(np.load(tmp_path / "locked" / "tensors.npy"))
    assert not phantom_slots(raw, ct).any() and np.allclose(raw.numpy(), clean)
    with pytest.raises(ValueError, match="already fixes which slots"):
        generate_crystens(2, tmp_path / "x", checkpoint=run, formula="NaCl", occupancy_lock=0.5, progress=False)

    gan = tmp_path / "gan"
    train_crystens("gan", path, CONFIGS / "crystens_gan_tiny.yaml", gan, overrides=["max_steps=2"])
    final_only = pd.read_csv(generate_crystens(4, tmp_path / "g0", checkpoint=gan, occupancy_lock=0.0, workers=1,
                                               progress=False))  # fmt: skip
    assert seen["hook"] is None  # the GAN path applies the lock to the finished samples
    assert (final_only["slots_locked"] == 1).all() and (final_only["n_atoms"] == 5).all()
    with pytest.raises(ValueError, match="only 0"):
        generate_crystens(2, tmp_path / "x", checkpoint=gan, occupancy_lock=0.5, progress=False)

    runner = CliRunner()
    out = tmp_path / "cli"
    args = ["generate", "--model", "crystens-diffusion", "--checkpoint", str(run), "-n", "2", "--steps", "3",
            "--workers", "1", "--occupancy-lock", "0.5", "-o", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (pd.read_csv(out / "summary.csv")["slots_locked"] == 1).all()
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--occupancy-lock", "0.5", "-o", str(tmp_path / "p")])
    assert result.exit_code == 2 and "no such option: --occupancy-lock" in result.output


def test_pair_skip_model_trains_loads_and_generates(perov, tmp_path):
    """The training tensors' CrysTens config reaches the pair skip at training and at loading time."""
    path, _ = perov
    run = tmp_path / "skip"
    train_crystens("diffusion", path, CONFIGS / "crystens_diffusion_tiny.yaml", run,
                   overrides=["max_steps=2", "model.pair_skip=true"])  # fmt: skip
    kind, module, cfg, ct = load_crystens_model(run)
    assert kind == "diffusion" and cfg.model.pair_skip and module.pair_skip is not None
    assert module.pair_skip.distance_slope == pytest.approx(ct.pair_distance.slope)
    frame = pd.read_csv(generate_crystens(2, tmp_path / "gen", checkpoint=run, sampling_steps=2, workers=1,
                                          progress=False))  # fmt: skip
    assert len(frame) == 2 and "coord_agreement" in frame.columns
