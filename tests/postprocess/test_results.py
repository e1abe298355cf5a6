"""PostprocessResult's summary row and the rejection counts."""

from __future__ import annotations

from xtalgen.postprocess.results import PostprocessResult, rejection_counts


def test_info_row_and_rejection_counts() -> None:
    ok = PostprocessResult(0, None, {"spacegroup": 225}, 225, "NaCl", 225, 8, 8, {"unique": True}, accepted=True)
    bad = PostprocessResult(1, None, {"spacegroup": 221}, 221, reason="atoms too close", extra={"volume_scale": 1.1})
    row = bad.info()
    assert row["cond_spacegroup"] == 221 and row["volume_scale"] == 1.1 and row["found_spacegroup"] is None
    assert ok.info()["filter_unique"] is True and ok.group_formula is None and ok.primitive_cell is None
    assert rejection_counts([ok, bad, bad]) == {"accepted": 1, "atoms too close": 2}
