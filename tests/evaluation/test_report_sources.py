from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.data.generation_folder import Candidate, write_generation
from xtalgen.evaluation.assembly import MetricSettings
from xtalgen.evaluation.report import write_report
from xtalgen.evaluation.runner import default_metrics, evaluate
from xtalgen.evaluation.sources import load_generated, load_reference


def _generation_dir(tmp_path):
    cands = [
        Candidate("ok1", rocksalt(), {"var_length": 0.5}),
        Candidate("ok2", cscl(), {"var_length": 1.5}),
        Candidate("failed", None, {"var_length": float("nan")}, accepted=False, reason="decode failed"),
    ]
    write_generation(tmp_path / "gen", cands)
    return tmp_path / "gen"


def test_generation_dir_keeps_failed_samples_and_info(tmp_path):
    gen = load_generated(_generation_dir(tmp_path))
    assert gen.ids == ["ok1", "ok2", "failed"]
    assert gen.structures[2] is None and gen.reasons[2] == "decode failed"
    assert gen.structures[0].composition.reduced_formula == "NaCl"
    assert "var_length" in gen.info.columns


def test_reference_from_csv_uses_split_and_limit(mp_slice_csv):
    frame = pd.read_csv(mp_slice_csv)
    ref = load_reference(mp_slice_csv, split="test", limit=5)
    expected = frame[frame["split"] == "test"].head(5)
    assert ref.ids == list(expected["material_id"])
    assert ref.structure(0).composition.reduced_formula == ref.formulas[0]


def test_report_files_and_self_contained_html(tmp_path):
    train = [("t0", rocksalt()), ("t1", cscl())]
    test = [("s0", rocksalt(5.5)), ("s1", cscl(4.0))]
    metrics = [m for m in default_metrics() if m.name != "cov_precision"]  # coverage is tested on MP data
    result = evaluate(_generation_dir(tmp_path), train, test, workers=1, progress=False, metrics=metrics)
    m = result.metrics
    assert m["n_samples"] == 3 and m["validity.structural"] == 2 / 3  # the failed sample counts
    assert m["consistency.var_length"] == 1.0
    page = write_report(result, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["metrics"]["validity.structural"] == m["validity.structural"]
    assert "| validity.structural | 0.6667 |" in (tmp_path / "report" / "metrics.md").read_text()
    html = page.read_text()
    assert 'src="data:image/png;base64,' in html and "file://" not in html
    first = html.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(first)[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "report" / "plots" / "distributions.png").is_file()
    assert len(list((tmp_path / "report" / "gallery").glob("*.png"))) == 0  # both samples match training
    table = pd.read_csv(tmp_path / "report" / "per_sample.csv")
    assert list(table["id"]) == ["ok1", "ok2", "failed"]
    np.testing.assert_array_equal(table["novel"].to_numpy()[:2], [0, 0])


def test_gallery_shows_valid_novel_samples(tmp_path):
    new = Structure(Lattice.cubic(5.0), ["K", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    result = evaluate([("new", new)], [("t0", rocksalt())], None, workers=1, progress=False,
                      settings=MetricSettings(known_structures=None))  # novel against the training set
    write_report(result, tmp_path / "r")
    assert [p.name for p in (tmp_path / "r" / "gallery").glob("*.png")] == ["00_new.png"]


def test_generated_csv_with_nan_or_huge_cells_gives_reasons_not_structures(tmp_path):
    good = cscl().to(fmt="cif")
    nan = good.replace("_cell_length_a   4.", "_cell_length_a   nan #", 1)
    assert nan != good
    huge = Structure(Lattice.cubic(1e30), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(fmt="cif")
    pd.DataFrame({"id": ["ok", "nan", "huge"], "cif": [good, nan, huge]}).to_csv(tmp_path / "g.csv", index=False)
    gen = load_generated(tmp_path / "g.csv")
    assert gen.structures[0] is not None and gen.structures[1] is None and gen.structures[2] is None
    assert gen.reasons[1].startswith("non-finite numbers") and gen.reasons[2].startswith("impossible cell")


def test_reference_csv_keeps_the_formula_nan(tmp_path):
    """Sodium nitride's reduced formula is "NaN": a CSV reference keeps it as a formula (issue 18)."""
    from pymatgen.core import Lattice, Structure

    nan = Structure(Lattice.cubic(4.0), ["Na", "N"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    path = tmp_path / "ref.csv"
    pd.DataFrame({"material_id": ["mp-x"], "pretty_formula": ["NaN"], "cif": [nan.to(fmt="cif")]}).to_csv(
        path, index=False
    )
    ref = load_reference(path)
    assert ref.formulas == ["NaN"] and ref.structure(0).composition.reduced_formula == "NaN"
