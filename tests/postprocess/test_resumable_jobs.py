"""The resumable job runner: one JSON line per result, resume after an interruption, many-item jobs."""

from __future__ import annotations

from xtalgen.postprocess.resumable_jobs import read_jsonl, run_resumable


def _double(payload):
    return {"value": payload * 2}


def _explode(*args, **kwargs):
    raise AssertionError("should not be called for finished ids")


def test_run_resumable_appends_one_line_per_result_and_resumes(tmp_path):
    path = tmp_path / "r.jsonl"
    out = run_resumable(_double, [("a", 1), ("b", 2)], path, progress=False)
    assert out == {"a": {"id": "a", "value": 2}, "b": {"id": "b", "value": 4}}
    assert len(path.read_text().splitlines()) == 2
    with open(path, "a") as fh:
        fh.write('{"id": "c", "val')  # cut-off line from an interrupted run
    again = run_resumable(_explode, [("a", 1), ("b", 2)], path, progress=False)
    assert again["b"]["value"] == 4
    assert set(read_jsonl(path)) == {"a", "b"}


def test_run_resumable_in_worker_processes_records_each_item_and_each_failure(tmp_path):
    items = [(k, i) for i, k in enumerate("pqrst")] + [("bad", None)]
    out = run_resumable(_double, items, tmp_path / "w.jsonl", progress=False, workers=2)
    assert [out[k]["value"] for k in "pqrst"] == [0, 2, 4, 6, 8]
    assert "TypeError" in out["bad"]["error"]
    assert set(read_jsonl(tmp_path / "w.jsonl")) == {*"pqrst", "bad"}


def _many_doubles(chunk):
    for key, payload in reversed(list(chunk)):  # finishes in another order than given
        if payload < 0:
            raise RuntimeError("model failed to load")
        yield key, {"value": payload * 2}


def test_run_resumable_with_a_many_job_records_resumes_and_survives_a_failed_chunk(tmp_path):
    path = tmp_path / "r.jsonl"
    out = run_resumable(_explode, [("a", 1), ("b", 2)], path, progress=False, many=_many_doubles)
    assert out == {"a": {"id": "a", "value": 2}, "b": {"id": "b", "value": 4}}
    again = run_resumable(_explode, [("a", 1), ("b", 2), ("c", 3)], path, progress=False, many=_many_doubles)
    assert again["c"]["value"] == 6 and len(path.read_text().splitlines()) == 3  # a, b reused
    failed = run_resumable(_explode, [("d", -1)], tmp_path / "f.jsonl", progress=False, many=_many_doubles)
    assert "model failed to load" in failed["d"]["error"]
    pooled = run_resumable(_explode, [(k, i) for i, k in enumerate("pqrst")], tmp_path / "p.jsonl", progress=False,
                           many=_many_doubles, workers=2, chunk_size=2)  # fmt: skip
    assert [pooled[k]["value"] for k in "pqrst"] == [0, 2, 4, 6, 8]
