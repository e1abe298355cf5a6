"""encode_dataset: one memory-mappable .npy + config JSON + ids + skipped list, parallel."""

from __future__ import annotations

import csv

import numpy as np
from pymatgen.core import Structure

from xtalgen.representations.crystens import CrysTensConfig, encode, encode_dataset, load_encoded


def test_encode_dataset_writes_memmap_ids_and_skips(tmp_path, perov30, spinel: Structure) -> None:
    items = [*perov30[:8], ("spinel-conv", spinel.to_conventional()), *perov30[8:12]]
    cfg = CrysTensConfig(size=32, cell="conventional")
    report = encode_dataset(items, tmp_path / "x.npy", cfg, workers=2, chunk_size=3, progress=False)
    assert report.encoded == 12 and report.counts_by_reason() == {"too many sites": 1}
    assert report.skipped[0][0] == "spinel-conv"
    encoded = load_encoded(tmp_path / "x.npy")
    assert isinstance(encoded.tensors, np.memmap) and encoded.tensors.shape == (12, 4, 32, 32)
    assert encoded.tensors.dtype == np.float32 and encoded.config == cfg
    expected_ids = [i for i, _ in items if i != "spinel-conv"]
    assert encoded.ids == expected_ids
    lookup = dict(items)
    for k in (0, 7, 11):  # same tensors as encoding one by one, in input order
        np.testing.assert_array_equal(encoded.tensors[k], encode(lookup[encoded.ids[k]], cfg))
    with open(tmp_path / "x.skipped.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["id"] == "spinel-conv" and rows[0]["reason"] == "too many sites"
    # one worker gives the identical file
    encode_dataset(items, tmp_path / "y.npy", cfg, workers=1, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), np.load(tmp_path / "x.npy"))
