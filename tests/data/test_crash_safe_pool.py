"""A worker process that dies (segfault, os._exit) never hangs ``data prepare``: only its entry is lost."""

from __future__ import annotations

import faulthandler
import os
import signal
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.data import prepare as prepare_module
from xtalgen.data.crash_safe_pool import map_surviving_crashes
from xtalgen.data.dataset import load_dataset
from xtalgen.data.prepare import prepare_dataset


def _die_on(job: list[int]) -> list[int]:
    if 13 in job:
        faulthandler.disable()  # no stack dump from the dying child
        os.kill(os.getpid(), signal.SIGSEGV)
    if 7 in job:
        os._exit(3)
    return [x * 10 for x in job]


@pytest.mark.timeout(120)
def test_map_keeps_order_and_isolates_the_entries_that_kill_their_worker() -> None:
    jobs = [list(range(k, k + 4)) for k in range(0, 20, 4)]
    out = list(
        map_surviving_crashes(
            _die_on,
            jobs,
            2,
            split=lambda job: [[x] for x in job],
            merge=lambda parts: [x for part in parts for x in part],
            crashed=lambda single: [-single[0]],
        )
    )
    assert out == [[0, 10, 20, 30], [40, 50, 60, -7], [80, 90, 100, 110], [120, -13, 140, 150],
                   [160, 170, 180, 190]]  # fmt: skip


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_prepare_survives_a_parser_that_kills_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for k, a in enumerate([4.0, 4.1, 4.2, 4.3, 4.4]):
        Structure(Lattice.cubic(a), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(src / f"ok{k}.cif"))
    (src / "killer.cif").write_text((src / "ok0.cif").read_text())
    real = prepare_module.parse_entry

    def dying(entry, **kwargs):  # noqa: ANN001, ANN003, ANN202 - stands in for a segfault in native code
        if entry.id == "killer.cif":
            faulthandler.disable()
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(entry, **kwargs)

    monkeypatch.setattr(prepare_module, "parse_entry", dying)
    result = prepare_dataset(src, tmp_path / "out.parquet", workers=workers, chunk_size=2)
    assert result.kept == 5
    assert [(r.id, r.reason) for r in result.report.rejections] == [("killer.cif", "crashed the parser")]
    assert sorted(load_dataset(tmp_path / "out.parquet").ids) == [f"ok{k}.cif" for k in range(5)]


@pytest.mark.timeout(120)
def test_the_per_entry_time_limit_still_fires_in_the_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from xtalgen.data import readers

    src = tmp_path / "in"
    src.mkdir()
    Structure(Lattice.cubic(4.2), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(src / "ok.cif"))
    (src / "slow.cif").write_text((src / "ok.cif").read_text())
    real = readers._parse_structures

    def slow(entry, *args):  # noqa: ANN001, ANN002, ANN202
        while entry.id == "slow.cif":
            time.sleep(0.01)
        return real(entry, *args)

    monkeypatch.setattr(readers, "_parse_structures", slow)
    result = prepare_dataset(src, tmp_path / "out.parquet", workers=2, chunk_size=1, timeout=0.5)
    assert result.kept == 1
    assert [(r.id, r.reason) for r in result.report.rejections] == [("slow.cif", "timeout")]
