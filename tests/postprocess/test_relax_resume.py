"""Relaxation records are reused only for the same structure and the same settings (no CHGNet needed)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.relax import CHGNetEnergyModel
from xtalgen.postprocess.relax_resume import relax_resumable, stale_reason
from xtalgen.postprocess.resumable_jobs import run_resumable

NACL = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
KBR = Structure(Lattice.cubic(6.60), ["K", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _fake_relax(structure: Structure, steps: int, calls: list) -> dict[str, Any]:
    calls.append(structure.composition.reduced_formula)
    return {"formula": structure.composition.reduced_formula, "steps": steps}


class FakeModel:
    """Stands in for CHGNetEnergyModel: the same settings record, a relaxation that only notes its call."""

    def __init__(self, steps: int = 1, fmax: float = 0.1, potential: str = "chgnet") -> None:
        self.steps, self.fmax, self.potential = steps, fmax, potential
        self.calls: list[str] = []

    @property
    def relax_settings(self) -> dict[str, Any]:
        return {"potential": self.potential, "steps": self.steps, "fmax": self.fmax, "cell_filter": "FrechetCellFilter"}

    def relax(self, items, *, cache_path, workers=1, progress=True, item_meta=None):
        job = partial(_fake_relax, steps=self.steps, calls=self.calls)
        return run_resumable(job, items, cache_path, workers=1, progress=False, item_meta=item_meta)


def test_same_id_other_structure_is_relaxed_again(tmp_path: Path):
    record = tmp_path / "relax.jsonl"
    first = FakeModel()
    done, stale = relax_resumable(first, [("cand1", NACL)], record)
    assert done["cand1"]["formula"] == "NaCl" and stale == {} and first.calls == ["NaCl"]
    again = FakeModel()
    done, stale = relax_resumable(again, [("cand1", KBR)], record)
    assert done["cand1"]["formula"] == "KBr" and again.calls == ["KBr"]  # not the stale NaCl record
    assert "structure differs" in stale["cand1"]
    same = FakeModel()
    done, stale = relax_resumable(same, [("cand1", KBR)], record)
    assert same.calls == [] and stale == {} and done["cand1"]["formula"] == "KBr"


def test_every_result_changing_setting_is_part_of_the_key(tmp_path: Path):
    record = tmp_path / "relax.jsonl"
    relax_resumable(FakeModel(steps=1), [("c", NACL)], record)
    for model, word in [(FakeModel(steps=200), "steps 1 -> 200"), (FakeModel(steps=200, fmax=0.05), "fmax"),
                        (FakeModel(steps=200, fmax=0.05, potential="sevennet"), "potential 'chgnet' -> 'sevennet'")]:
        done, stale = relax_resumable(model, [("c", NACL)], record)
        assert model.calls == ["NaCl"] and word in stale["c"], stale
        assert done["c"]["steps"] == model.steps
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert lines[-1]["settings"]["potential"] == "sevennet" and len(lines[-1]["structure_hash"]) == 20


def test_old_records_without_a_key_are_not_trusted(tmp_path: Path):
    record = tmp_path / "relax.jsonl"
    record.write_text(json.dumps({"id": "c", "formula": "NaCl", "steps": 1}) + "\n")
    model = FakeModel()
    done, stale = relax_resumable(model, [("c", KBR)], record)
    assert model.calls == ["KBr"] and "older xtalgen" in stale["c"]


def test_chgnet_settings_name_potential_steps_fmax_and_cell_filter():
    settings = CHGNetEnergyModel(steps=7, fmax=0.2).relax_settings
    assert settings["potential"] == "chgnet" and settings["steps"] == 7 and settings["fmax"] == 0.2
    assert settings["cell_filter"] == "FrechetCellFilter" and settings["model"]
    fields = {"structure_hash": "h", "settings": settings}
    assert stale_reason({"structure_hash": "h", "settings": dict(settings)}, fields) is None
    assert "cell_filter" in stale_reason({"structure_hash": "h", "settings": {**settings, "cell_filter": "x"}}, fields)
