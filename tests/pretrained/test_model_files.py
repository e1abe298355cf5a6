"""Files added to a packaged model afterwards (``--add-file``), and a run's stability classifier in packaging."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from xtalgen.evaluation.stability_classifier import FILE_NAME, StabilityClassifier
from xtalgen.evaluation.stability_features import FEATURE_NAMES
from xtalgen.pretrained import package_checkpoint, pretrained_checkpoint, pretrained_info
from xtalgen.pretrained.package import main as package_main
from xtalgen.pretrained.registry import verify_files


def _classifier(path: Path, bias: float = 0.0) -> Path:
    f = len(FEATURE_NAMES)
    model = StabilityClassifier(FEATURE_NAMES, np.zeros(f), np.ones(f), [(np.zeros((f, 1)), np.array([bias]))])
    return model.to_json(path)


def test_add_file_records_it_and_replaces_it(pgcgm_run: Path, tmp_path: Path, capsys) -> None:
    reg = tmp_path / "registry"
    package_checkpoint(pgcgm_run, "pgcgm-a", registry=reg)
    clf = _classifier(tmp_path / FILE_NAME)
    assert package_main(["--add-file", "pgcgm-a", str(clf), "--registry", str(reg)]) == 0
    assert "added stability_classifier.json to pgcgm-a" in capsys.readouterr().out
    info = pretrained_info("pgcgm-a", reg)
    shipped = pretrained_checkpoint("pgcgm-a", reg) / FILE_NAME
    assert info.files[FILE_NAME] == {"sha256": hashlib.sha256(shipped.read_bytes()).hexdigest(),
                                     "size": shipped.stat().st_size}  # fmt: skip
    assert info.size_bytes == sum(m["size"] for m in info.files.values())
    verify_files(info, reg)
    # a second add replaces the file and its record
    assert package_main(["--add-file", "pgcgm-a", str(_classifier(tmp_path / "b" / FILE_NAME, 1.0)),
                         "--registry", str(reg)]) == 0  # fmt: skip
    assert StabilityClassifier.from_json(shipped).layers[-1][1][0] == 1.0
    verify_files(pretrained_info("pgcgm-a", reg), reg)


def test_add_file_refusals_change_nothing(pgcgm_run: Path, tmp_path: Path, capsys) -> None:
    reg = tmp_path / "registry"
    package_checkpoint(pgcgm_run, "pgcgm-a", registry=reg)
    before = (reg / "registry.json").read_text()
    weights = tmp_path / "weights.safetensors"
    weights.write_bytes(b"x")
    assert package_main(["--add-file", "pgcgm-a", str(weights), "--registry", str(reg)]) == 1
    assert package_main(["--add-file", "pgcgm-a", str(tmp_path / "missing.json"), "--registry", str(reg)]) == 1
    clf = _classifier(tmp_path / FILE_NAME)
    assert package_main(["--add-file", "pgcgm-a", str(clf), "--registry", str(reg), "--max-mb", "0.0001"]) == 1
    out = capsys.readouterr().out
    assert "written by packaging" in out and "is not a file" in out and "the limit is" in out
    assert (reg / "registry.json").read_text() == before
    assert not (pretrained_checkpoint("pgcgm-a", reg) / FILE_NAME).exists()


def test_packaging_ships_the_runs_classifier(pgcgm_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(pgcgm_run, run)
    _classifier(run / FILE_NAME)
    info = package_checkpoint(run, "pgcgm-c", registry=tmp_path / "registry")
    assert FILE_NAME in info.files
    shipped = json.loads((pretrained_checkpoint("pgcgm-c", tmp_path / "registry") / FILE_NAME).read_text())
    assert shipped["feature_names"] == list(FEATURE_NAMES)
