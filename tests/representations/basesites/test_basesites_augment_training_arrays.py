"""Self-augmentation keeps the full structure; BaseSiteArrays format, building and persistence."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from xtalgen.data.elements import element_features
from xtalgen.data.records import ReadReport, StructureRecord
from xtalgen.representations.basesites.augment import augment_sets, n_distinct_choices
from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.expand import expand_raw, expand_to_structure
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays, build_training_arrays

MATCHER = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=False, scale=False)


def spinel() -> Structure:
    # MgAl2O4 in origin choice 1 (pymatgen's "Fd-3m"): Mg 8a, Al 16d, O 32e (x = u + 1/8).
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.387] * 3]
    )


def perovskite() -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.9), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]
    )


def wurtzite_like() -> Structure:  # P6_3mc, 2b sites with a free z
    return Structure.from_spacegroup(
        "P6_3mc", Lattice.hexagonal(3.25, 5.2), ["Zn", "O"], [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]]
    )


def quaternary() -> Structure:  # 4 base sites: Ba Ti O(3c) ... plus a tetragonal distortion
    return Structure.from_spacegroup(
        "P4mm", Lattice.tetragonal(4.0, 4.1), ["Ba", "Ti", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.52], [0.5, 0.5, 0.03], [0.5, 0, 0.49]],
    )


def test_every_augmented_sample_expands_to_the_original():
    s = spinel()
    base = encode_structure(s)
    sets = augment_sets(base, n_augment=6, n_sets=3, rng=7)
    assert sets.shape == (6, 3, 3, 3)
    for sample in sets:
        # Sets inside one sample use distinct orbit members (orbits have >= 8 members here).
        for k in range(3):
            assert len({tuple(np.round(x, 6)) for x in sample[:, k]}) == 3
        for coords in sample:
            e = expand_to_structure(base.species, coords, base.spacegroup, base.lattice)
            assert len(e) == 56 and MATCHER.fit(e, s)
    # Each chosen position is a member of its orbit.
    for k, orbit in enumerate(base.orbits):
        d = sets[:, :, k, None, :] - orbit[None, None]
        d -= np.round(d)
        assert np.abs(d).sum(-1).min(-1).max() < 1e-9


def test_augmentation_is_seeded_and_covers_orbits():
    base = encode_structure(wurtzite_like())
    a = augment_sets(base, 32, 3, rng=1)
    assert np.array_equal(a, augment_sets(base, 32, 3, rng=1))
    assert not np.array_equal(a, augment_sets(base, 32, 3, rng=2))
    # Orbits of 2 atoms: 3 sets reuse one member, but both members appear in every sample.
    assert base.multiplicities.tolist() == [2, 2]
    for k in range(2):
        assert all(len({tuple(np.round(x, 6)) for x in smp[:, k]}) == 2 for smp in a)
    assert n_distinct_choices(base, 3) == 4
    with pytest.raises(ValueError):
        augment_sets(base, 0)


def test_build_training_arrays_format_and_rejections(tmp_path):
    report = ReadReport()
    records = [
        StructureRecord("spinel", spinel()),
        StructureRecord("quat", quaternary()),
        StructureRecord("sto", perovskite()),
    ]
    arrays = build_training_arrays(records, n_augment=4, n_sets=3, max_base_sites=3, seed=3,
                                   report=report, progress=False)
    assert len(arrays) == 8 and arrays.material_ids.tolist() == ["spinel", "sto"]
    assert report.accepted == 2
    assert [(r.id, r.reason) for r in report.rejections] == [("quat", "too many sites")]
    assert arrays.coords.shape == (8, 3, 3, 3) and arrays.coords.dtype == np.float32
    assert arrays.ops.shape == (8, 192, 4, 4) and arrays.ops_mask.sum(1).tolist() == [192] * 4 + [48] * 4
    assert arrays.spacegroup.tolist() == [227] * 4 + [221] * 4
    assert arrays.crystal_system.tolist() == [6] * 8
    assert arrays.element_z[0].tolist() == [12, 13, 8] and arrays.site_mask.all()
    assert np.allclose(arrays.element_features[0, 2], element_features("O"))
    assert np.allclose(arrays.radii[0], [1.5, 1.25, 0.6])
    assert np.allclose(arrays.lattice[5], [3.9, 3.9, 3.9, 90, 90, 90])
    assert arrays.multiplicity[5].tolist() == [1, 1, 3]
    assert (arrays.coords >= 0).all() and (arrays.coords < 1).all()
    # Same seed → same arrays; every sample of every set expands back to its material.
    again = build_training_arrays(records, n_augment=4, seed=3, progress=False)
    assert np.array_equal(again.coords, arrays.coords)
    for raw in arrays.raw_candidates(set_index=2)[::3]:
        assert MATCHER.fit(expand_raw(raw), spinel() if raw.spacegroup == 227 else perovskite())
    # Quaternary accepted with K = 4; a ternary in the same arrays has a padded site.
    mixed = build_training_arrays(records, n_augment=2, max_base_sites=4, seed=0, progress=False)
    assert mixed.material_ids.tolist() == ["spinel", "quat", "sto"]
    assert mixed.site_mask.sum(1).tolist() == [3, 3, 4, 4, 3, 3]
    assert mixed.element_z[0, 3] == 0 and np.all(mixed.element_features[0, 3] == 0)
    assert MATCHER.fit(expand_raw(mixed.raw_candidates()[2]), quaternary())
    # Persistence round trip and subset.
    path = arrays.save_npz(tmp_path / "a.npz")
    loaded = BaseSiteArrays.load_npz(path)
    for name in ("coords", "lattice", "element_features", "site_mask", "material_index", "spacegroup"):
        assert np.array_equal(getattr(loaded, name), getattr(arrays, name))
    assert loaded.material_ids.tolist() == ["spinel", "sto"]
    sub = arrays.subset(np.array([5, 0]))
    assert sub.spacegroup.tolist() == [221, 227] and sub.material_index.tolist() == [1, 0]
    both = BaseSiteArrays.concatenate([arrays, sub])
    assert len(both) == 10 and both.material_ids[both.material_index[8]] == "sto"


def test_unsupported_element_is_reported_not_fatal():
    report = ReadReport()
    am = Structure(Lattice.cubic(3.5), ["Am"], [[0, 0, 0]])  # Z = 95: no element features
    arrays = build_training_arrays([("am", am), ("sto", perovskite())], n_augment=1, report=report,
                                   progress=False)
    assert arrays.material_ids.tolist() == ["sto"]
    assert [(r.id, r.reason) for r in report.rejections] == [("am", "unsupported element")]


def test_validation_and_empty_input():
    arrays = build_training_arrays([perovskite()], n_augment=1, progress=False)
    assert arrays.material_ids.tolist() == ["0"]
    with pytest.raises(ValueError, match="coords"):
        BaseSiteArrays(**{**arrays.__dict__, "coords": arrays.coords[..., :2]})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        BaseSiteArrays(**{**arrays.__dict__, "coords": arrays.coords + 1})
    with pytest.raises(ValueError, match="no material"):
        build_training_arrays([quaternary()], max_base_sites=3, progress=False)
