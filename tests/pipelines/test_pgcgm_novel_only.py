"""PGCGM ``novel_only``: accepted candidates that the known-structures table holds are rejected with the
matched id, and accepted mode draws on until n new ones are found (tiny general model, tiny table)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from _pgcgm_data import base_site_table
from pymatgen.core import Lattice, Structure

from xtalgen.configs import bundled_config
from xtalgen.evaluation.known_structures import ENV_VAR, KnownStructures, keys_rows, write_known_structures
from xtalgen.evaluation.symmetry_keys import wyckoff_keys
from xtalgen.pipelines.generation import GenerationRequest, generate
from xtalgen.pipelines.pgcgm.novel_only import REASON_KNOWN, reject_known
from xtalgen.pipelines.pgcgm.train import train_pgcgm
from xtalgen.postprocess.candidates import PostprocessResult

# loose filters so the untrained model's structures are accepted
LOOSE = {"max_atoms": 40, "distance_factor": 0.3, "max_formula_atoms": 0, "max_primitive_sites": 0}


def _known_table(structures: dict[str, Structure], path: Path) -> KnownStructures:
    ids = list(structures)
    rows = keys_rows(ids, [s.composition.reduced_formula for s in structures.values()],
                     [wyckoff_keys(s) for s in structures.values()])  # fmt: skip
    write_known_structures(KnownStructures(rows, {"source": "tiny"}, "tiny"), path, {"source": "tiny"})
    return KnownStructures(rows, {"source": "tiny"}, "tiny")


def _rock_salt(a: float, cation: str = "Na", anion: str = "Cl") -> Structure:
    return Structure.from_spacegroup(225, Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_reject_known_names_the_match_and_keeps_the_rest(tmp_path) -> None:
    known = _known_table({"known-nacl": _rock_salt(5.6)}, tmp_path / "known.parquet")
    cscl = Structure(Lattice.cubic(3.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])  # NaCl, but not rock salt
    results = [PostprocessResult(0, _rock_salt(5.9), accepted=True),  # other lattice constant: same structure
               PostprocessResult(1, cscl, accepted=True),
               PostprocessResult(2, _rock_salt(5.2, "K", "Br"), accepted=True),
               PostprocessResult(3, None, accepted=False, reason="atoms too close")]  # fmt: skip
    assert reject_known(results, known) == 1
    assert (results[0].accepted, results[0].reason, results[0].extra["known_id"]) == (False, REASON_KNOWN, "known-nacl")
    assert results[0].filters["novel"] is False
    for r in results[1:3]:
        assert r.accepted and r.reason == "" and r.extra["known_id"] == "" and r.filters["novel"] is True
    assert results[3].reason == "atoms too close" and results[3].filters["novel"] is None
    later = [*results, PostprocessResult(4, _rock_salt(5.6), accepted=True)]
    assert reject_known(later, known, since=4) == 1 and results[1].accepted  # earlier rows untouched


@pytest.fixture(scope="module")
def run(mp_frame, tmp_path_factory) -> Path:
    """A tiny general PGCGM trained for 6 steps on ~60 small MP materials."""
    folder = tmp_path_factory.mktemp("novel_only")
    table = base_site_table(mp_frame[mp_frame["nsites"] <= 8].head(60), folder / "table.parquet")
    torch.set_num_threads(1)
    train_pgcgm(table, bundled_config("pgcgm_general_tiny"), folder / "run", overrides=["max_steps=6",
                "checkpoint_every=6"])  # fmt: skip
    return folder / "run"


def _generate(run: Path, out: Path, n: int, workers: int, novel_only: bool) -> tuple[pd.DataFrame, dict]:
    request = GenerationRequest(n, workers=workers, elements=(("Na", "Cl"),), checkpoint=run, progress=False)
    generate("pgcgm", request, out, {**LOOSE, "novel_only": novel_only})
    frames = [pd.read_csv(out / name) for name in ("summary.csv", "rejected.csv") if (out / name).is_file()]
    frame = pd.concat(frames).sort_values("id").reset_index(drop=True)
    return frame, json.loads((out / "generation.json").read_text())


def test_novel_only_drops_a_generated_known_structure_and_draws_on(run, tmp_path, monkeypatch) -> None:
    off, record_off = _generate(run, tmp_path / "off", 4, 1, False)
    assert record_off["novel_only"] is False and "known_id" not in off.columns
    accepted = off[off["accepted"]]
    assert len(accepted) == 4
    first = accepted.iloc[0]
    structure = Structure.from_file(tmp_path / "off" / "cifs" / f"{first['id']}.cif")
    _known_table({"tiny-known": structure}, tmp_path / "known.parquet")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "known.parquet"))
    # workers=2: the post-processing runs in a process pool, the check in this process
    on, record_on = _generate(run, tmp_path / "on", 4, 2, True)
    row = on[on["id"] == first["id"]].iloc[0]
    assert not row["accepted"] and row["reason"] == REASON_KNOWN and row["known_id"] == "tiny-known"
    assert record_on["novel_only"] is True and record_on["known_dropped"] >= 1
    assert (on["reason"] == REASON_KNOWN).sum() == record_on["known_dropped"]
    assert on["accepted"].sum() == 4 and len(on) > len(off)  # drew on until 4 new ones
    assert set(accepted["id"][1:]) <= set(on.loc[on["accepted"], "id"])
    assert (on.loc[on["accepted"], "known_id"].fillna("") == "").all()


def test_novel_only_without_a_table_fails_clearly(run, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.parquet"))
    request = GenerationRequest(2, workers=1, elements=(("Na", "Cl"),), checkpoint=run, progress=False)
    with pytest.raises(ValueError, match="novel_only: known-structures table not found"):
        generate("pgcgm", request, tmp_path / "out", {"novel_only": True})
