"""Benchmark download: checksum verification and the offline message, without touching the network."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest

from xtalgen.data import fetch
from xtalgen.data.fetch import BENCHMARKS, FetchError, RemoteFile, fetch_benchmark, verify_file


def _publish(tmp_path: Path, name: str, files: dict[str, bytes]) -> str:
    root = tmp_path / "remote"
    (root / name).mkdir(parents=True)
    for fname, data in files.items():
        (root / name / fname).write_bytes(data)
    return root.as_uri()


def test_verified_download_from_a_local_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"train.csv": b"a\n1\n", "val.csv": b"a\n2\n", "test.csv": b"a\n3\n"}
    digests = {k: hashlib.sha256(v).hexdigest() for k, v in data.items()}
    monkeypatch.setitem(BENCHMARKS, "toy", tuple(RemoteFile(k, digests[k] if k != "train.csv" else None) for k in data))
    url = _publish(tmp_path, "toy", data)
    paths = fetch_benchmark("toy", tmp_path / "out", base_url=url)
    assert [p.read_bytes() for p in paths] == list(data.values())
    sums = (tmp_path / "out" / "SHA256SUMS").read_text()
    assert f"{digests['val.csv']}  val.csv  # verified" in sums
    assert "train.csv  # unverified" in sums


def test_checksum_mismatch_removes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BENCHMARKS, "toy", (RemoteFile("val.csv", "0" * 64),))
    url = _publish(tmp_path, "toy", {"val.csv": b"tampered"})
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch_benchmark("toy", tmp_path / "out", base_url=url)
    assert not (tmp_path / "out" / "val.csv").exists()
    with pytest.raises(FetchError, match="checksum mismatch"):
        verify_file(tmp_path / "remote" / "toy" / "val.csv", "1" * 64)


def test_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(FetchError, match="offline") as info:
        fetch_benchmark("perov_5", tmp_path / "out")
    assert "copy it to" in str(info.value)
    assert not any((tmp_path / "out").glob("*.csv"))
    with pytest.raises(FetchError, match="unknown benchmark"):
        fetch_benchmark("mp_21", tmp_path)


def test_published_digests_match_the_shared_copies(shared_datasets: Path, tmp_path: Path) -> None:
    import gzip

    for name in ("perov_5", "carbon_24"):
        for remote in BENCHMARKS[name]:
            src = shared_datasets / name / (remote.name + ".gz")
            if remote.sha256 is None or not src.exists():
                continue
            plain = tmp_path / f"{name}_{remote.name}"
            plain.write_bytes(gzip.decompress(src.read_bytes()))
            assert verify_file(plain, remote.sha256) == remote.sha256
