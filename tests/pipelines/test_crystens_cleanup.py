"""From a noisy generated CrysTens to a crystal: decoding + cleanup steps in the crystens pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import spglib
from pymatgen.core import Lattice, Structure

from xtalgen.pipelines.crystens.decode import decode_candidates, decode_to_generation
from xtalgen.pipelines.crystens.sample import CrysTensOptions
from xtalgen.pipelines.families import get_family
from xtalgen.postprocess.sample_cleanup import CleanupOptions
from xtalgen.representations.crystens import CrysTensConfig, encode
from xtalgen.representations.crystens.config import FIRST_ATOM

STEP_COLUMNS = ["atoms_decoded", "volume_ratio", "volume_scale", "atoms_merged", "spacegroup_before",
                "symmetry_applied", "symmetry_tolerance_used", "symmetry_max_displacement", "atoms_final"]  # fmt: skip


def _noisy_rocksalt(cfg: CrysTensConfig, seed: int = 0) -> np.ndarray:
    """Rocksalt NaCl tensor with noise on every entry and a wrong stated space group (P-1), so the
    decoder's own snap to the stated group does not apply."""
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    t = encode(nacl, cfg)
    t[:, 10, FIRST_ATOM : FIRST_ATOM + 8] = cfg.spacegroup.normalise(2)
    t[:, FIRST_ATOM : FIRST_ATOM + 8, 10] = cfg.spacegroup.normalise(2)
    return t + np.random.default_rng(seed).normal(0, 0.01, t.shape).astype(np.float32)


def _tight(s: Structure) -> int:
    return spglib.get_symmetry_dataset((s.lattice.matrix, s.frac_coords, s.atomic_numbers), symprec=1e-3).number


def test_noisy_rocksalt_tensor_decodes_to_fm3m_nacl() -> None:
    cfg = CrysTensConfig(size=32)
    raw = _noisy_rocksalt(cfg)[None]
    (plain,) = decode_candidates(raw, cfg, label="t", workers=1, progress=False)
    assert _tight(plain.structure) != 225
    (cand,) = decode_candidates(raw, cfg, label="t", workers=1, progress=False, cleanup=CleanupOptions())
    s = cand.structure
    assert _tight(s) == 225 and len(s) == 8 and s.composition.reduced_formula == "NaCl"
    assert cand.info["symmetry_applied"] == 225 and cand.info["spacegroup_before"] in (1, 225)
    assert 0 < cand.info["symmetry_max_displacement"] < 0.5 and cand.info["atoms_final"] == 8
    assert all(k in cand.info for k in STEP_COLUMNS)


def test_switching_a_step_off_changes_the_record() -> None:
    cfg = CrysTensConfig(size=32)
    raw = _noisy_rocksalt(cfg)[None]
    opts = get_family("crystens-diffusion").parse_options(["symmetry_tolerance=null", "merge_factor=null"])
    assert isinstance(opts, CrysTensOptions) and opts.cleanup().symmetry_tolerance is None
    (cand,) = decode_candidates(raw, cfg, label="t", workers=1, progress=False, cleanup=opts.cleanup(),
                                decode_options=opts.decode_options())  # fmt: skip
    assert cand.info["symmetry_applied"] == 0 and "symmetry_max_displacement" not in cand.info
    assert "atoms_merged" not in cand.info and "volume_scale" in cand.info
    header_only = get_family("crystens-diffusion").parse_options(["consensus=false"]).decode_options()
    (a,) = decode_candidates(raw, cfg, label="t", workers=1, progress=False)
    (b,) = decode_candidates(raw, cfg, label="t", workers=1, progress=False, decode_options=header_only)
    assert not np.allclose(a.structure.frac_coords, b.structure.frac_coords)


def test_summary_has_the_step_columns_and_cif_states_spglib_group(tmp_path: Path) -> None:
    cfg = CrysTensConfig(size=32)
    raw = np.stack([_noisy_rocksalt(cfg, seed) for seed in range(2)])
    summary = decode_to_generation(raw, cfg, tmp_path, label="t", workers=1, progress=False,
                                   cleanup=CleanupOptions())  # fmt: skip
    df = pd.read_csv(summary)
    assert set(STEP_COLUMNS) <= set(df.columns)
    assert (df["spacegroup"] == 225).all() and (df["symmetry_applied"] == 225).all()
    cif = (tmp_path / df["cif"][0]).read_text()
    assert "_symmetry_Int_Tables_number   225" in cif


def test_decoding_defaults_per_family() -> None:
    """Diffusion samples decode from the header coordinates with a 3-Z floor; GAN / WGAN-GP samples use the
    consensus of the redundant entries (docs/benchmarks/crystens_cleanup.md)."""
    diffusion = get_family("crystens-diffusion").parse_options([]).decode_options()
    assert not diffusion.coordinate_consensus and diffusion.z_noise_floor == 3.0
    for family in ("crystens-gan", "crystens-wgan"):
        gan = get_family(family).parse_options([]).decode_options()
        assert gan.coordinate_consensus and gan.z_noise_floor == 0.1
