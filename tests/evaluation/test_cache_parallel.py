from __future__ import annotations

import json

from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.evaluation.cache import JsonlCache, structure_key
from xtalgen.evaluation.parallel import map_cached


def _square(x):
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise RuntimeError("three")
    return x


def test_cache_survives_a_cut_off_line(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = JsonlCache(path)
    cache.put("a", 1.5)
    cache.put("b", float("nan"))
    with open(path, "a") as fh:
        fh.write('{"k": "c", "v"')  # interrupted write
    again = JsonlCache(path)
    assert again["a"] == 1.5 and again["b"] is None and "c" not in again


def test_map_cached_parallel_equals_serial_and_resumes(tmp_path):
    items = [(str(i), i) for i in range(30)]
    serial = map_cached(_square, items, JsonlCache(None), workers=1, progress=False)
    cache = JsonlCache(tmp_path / "sq.jsonl")
    parallel = map_cached(_square, items, cache, workers=2, batch_size=4, progress=False)
    assert parallel == serial == {str(i): i * i for i in range(30)}
    lines = (tmp_path / "sq.jsonl").read_text().splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["v"] == int(json.loads(lines[0])["k"]) ** 2
    # a resumed run computes nothing: a function that would fail is never called
    resumed = map_cached(_fail_on_three, items, JsonlCache(tmp_path / "sq.jsonl"), workers=1, progress=False)
    assert resumed["3"] == 9


def test_errors_are_recorded_per_item():
    out = map_cached(_fail_on_three, [(str(i), i) for i in range(5)], JsonlCache(None), workers=1, progress=False)
    assert out["2"] == 2 and "RuntimeError: three" in out["3"]["error"]


def test_structure_key_depends_on_content_not_identity():
    assert structure_key(rocksalt()) == structure_key(rocksalt())
    assert structure_key(rocksalt()) != structure_key(rocksalt(5.7))
    assert structure_key(rocksalt()) != structure_key(cscl())
