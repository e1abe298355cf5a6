"""Occupancy lock: phantom slots (Z just above the threshold, the rest of the header empty) are emptied."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from xtalgen.models.crystens import CrysTensDiffusion, DiffusionConfig, Imputation, denoise, make_sampler
from xtalgen.models.crystens.occupancy_lock import OccupancyLock, phantom_slots
from xtalgen.models.crystens.tensor_layout import slot_headers, slot_mask
from xtalgen.representations.crystens import CrysTensConfig, decode, encode
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_Z
from xtalgen.representations.crystens.known_entries import known_entries

CT = CrysTensConfig(size=20)  # 8 atom slots


def _nacl() -> torch.Tensor:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return torch.from_numpy(encode(s, CT)).float()


def _with_phantom(x: torch.Tensor, slot: int, z_level: float) -> torch.Tensor:
    """``x`` with the atomic-number entries (row, column, 4 layers) of an empty slot set to ``z_level``."""
    x = x.clone()
    col = FIRST_ATOM + slot
    x[:, ROW_Z, col] = z_level
    x[:, col, ROW_Z] = z_level
    return x


def test_slot_headers_read_the_encoded_values():
    x = _nacl()[None]
    h = slot_headers(x)
    assert h.shape == (1, 11, CT.max_atoms)
    z = CT.atomic_number.denormalise(h[0, ROW_Z, :8].numpy())
    assert sorted(np.round(z).astype(int).tolist()) == [11] * 4 + [17] * 4  # conventional cell: 4 f.u.


def test_phantom_slot_is_found_and_real_atoms_are_not():
    base = _nacl()
    assert not phantom_slots(base[None], CT).any()
    # NaCl fills all 8 slots of this size; use a smaller cell: the primitive one
    prim = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    x = torch.from_numpy(encode(prim, CT)).float()
    level = CT.presence_threshold + 0.02  # just above: the decoder would count it
    ph = _with_phantom(x, 5, level)
    assert decode(ph.numpy(), CT).n_atoms == 3
    found = phantom_slots(ph[None], CT)[0]
    assert found.tolist() == [False] * 5 + [True] + [False] * 2
    # a slot with hydrogen's Z *and* the sample's lattice is an atom, not a phantom
    real = ph.clone()
    col = FIRST_ATOM + 5
    real[:, 4:11, col] = x[:, 4:11, FIRST_ATOM]
    real[:, col, 4:11] = x[:, FIRST_ATOM, 4:11]
    assert not phantom_slots(real[None], CT).any()


def test_slot_mask_covers_rows_and_columns():
    slots = torch.zeros(2, CT.max_atoms, dtype=torch.bool)
    slots[1, 2] = True
    m = slot_mask(slots, CT.size)
    assert m.shape == (2, 4, CT.size, CT.size)
    assert not m[0].any()
    assert m[1, :, FIRST_ATOM + 2, :].all() and m[1, :, :, FIRST_ATOM + 2].all()
    assert int(m[1, 0].sum()) == 2 * CT.size - 1


@pytest.mark.parametrize("prediction", ["sample", "epsilon"])
def test_lock_empties_the_phantom_and_keeps_everything_else(prediction):
    """A fixed 'network' that always predicts a tensor with a phantom slot: the lock removes exactly it."""
    prim = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    clean = torch.from_numpy(encode(prim, CT)).float()
    target = _with_phantom(clean, 4, CT.presence_threshold + 0.03)[None].expand(3, -1, -1, -1)
    cfg = DiffusionConfig(prediction_type=prediction, num_train_timesteps=100)
    sched = make_sampler(cfg, "ddim")

    def model_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if prediction == "sample":
            return target.clone()
        ab = sched.alphas_cumprod[int(t)]
        return (xt - ab.sqrt() * target) / (1 - ab).sqrt()

    x = torch.randn(3, 4, CT.size, CT.size, generator=torch.Generator().manual_seed(0))
    plain = denoise(model_fn, make_sampler(cfg, "ddim"), x.clone(), 10)
    assert all(decode(t.numpy(), CT).n_atoms == 3 for t in plain)
    lock = OccupancyLock(CT, start=0.5, num_train_timesteps=100)
    locked = denoise(model_fn, make_sampler(cfg, "ddim"), x.clone(), 10, impute=lock)
    assert lock.locked_counts == [1, 1, 1]
    assert torch.allclose(locked, clean[None].expand(3, -1, -1, -1), atol=1e-4)
    assert all(decode(t.numpy(), CT).n_atoms == 2 for t in locked)
    # a second run starts with no locks: counts accumulate per sample, not per slot ever seen
    denoise(model_fn, make_sampler(cfg, "ddim"), x.clone(), 10, impute=lock)
    assert lock.locked_counts == [1] * 6


def test_lock_before_start_leaves_outputs_untouched():
    """Above the start timestep the hook returns the network output unchanged (inner hook aside)."""
    lock = OccupancyLock(CT, start=0.3, num_train_timesteps=1000)
    out = torch.randn(2, 4, CT.size, CT.size)
    xt = torch.randn_like(out)
    ac = torch.linspace(0.999, 0.01, 1000)
    assert torch.equal(lock.model_output(out, xt, torch.tensor(400), ac, "epsilon"), out)
    changed = lock.model_output(out, xt, torch.tensor(200), ac, "sample")
    assert changed.shape == out.shape


def test_start_is_checked():
    with pytest.raises(ValueError, match="occupancy lock start"):
        OccupancyLock(CT, start=1.5)


def test_lock_wraps_an_imputation_and_samples_from_a_model():
    """A tiny untrained model: imputation's known entries stay exact and the lock's slots end empty."""
    torch.manual_seed(0)
    cfg = DiffusionConfig(
        block_out_channels=[8, 16], attention=[False, False], norm_num_groups=4, sampling_steps=4,
        prediction_type="sample",
    )  # fmt: skip
    model = CrysTensDiffusion(CT.size, cfg)
    known = known_entries(CT, 221)
    lock = OccupancyLock(CT, start=1.0, inner=Imputation.from_known(known, CT))
    x = model.sample(4, impute=lock, generator=torch.Generator().manual_seed(2))
    mask = torch.from_numpy(known.mask).expand_as(x)
    assert torch.equal(x[mask], torch.from_numpy(known.values).expand_as(x)[mask])
    assert len(lock.locked_counts) == 4
    assert not phantom_slots(x, CT).any()
