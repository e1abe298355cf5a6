"""Download the public crystal-generation benchmarks (MP-20, Perov-5, Carbon-24) and verify them.

The CSVs are published by the CDVAE authors (Xie et al., ICLR 2022) in their repository's ``data/``
folder. Files whose SHA-256 we know are verified; for the others the digest is computed, written to
``SHA256SUMS`` beside the files and reported as unverified, so a later download can be compared.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from xtalgen.data.atomic import atomic_path
from xtalgen.data.hashing import file_sha256

CDVAE_DATA_URL = "https://raw.githubusercontent.com/txie-93/cdvae/main/data"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a benchmark: its name and, when known, the SHA-256 of its bytes."""

    name: str
    sha256: str | None = None


#: Known digests were computed from copies of the published files (uncompressed CSV bytes).
BENCHMARKS: dict[str, tuple[RemoteFile, ...]] = {
    "mp_20": (RemoteFile("train.csv"), RemoteFile("val.csv"), RemoteFile("test.csv")),
    "perov_5": (
        RemoteFile("train.csv"),
        RemoteFile("val.csv", "326f401219901270374b71e2faff63df3a29a99fd26f469993b9f476b693daf2"),
        RemoteFile("test.csv", "a85878c685037f0a578257f6d4fcdde00e968dbab73c5f1e90ecef65218513f6"),
    ),
    "carbon_24": (
        RemoteFile("train.csv"),
        RemoteFile("val.csv", "36c00689cd63073c954a58bc6ed6e2adb7aeed5a630c994970959a1babffd50e"),
        RemoteFile("test.csv", "386b17c08816f434818d51e46687bf72ff3f92348f3ba24823e4758f1fe8a969"),
    ),
}


class FetchError(RuntimeError):
    """A download failed (offline, HTTP error) or a file did not match its checksum."""


def verify_file(path: str | Path, expected: str | None) -> str:
    """Return the file's SHA-256; raise :class:`FetchError` when ``expected`` is given and differs."""
    actual = file_sha256(path)
    if expected is not None and actual != expected.lower():
        raise FetchError(f"{path}: checksum mismatch (expected sha256 {expected}, got {actual}); file removed")
    return actual


def _download(url: str, target: Path, timeout: float) -> None:
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as response,
            atomic_path(target) as tmp,
            open(tmp, "wb") as fh,
        ):
            shutil.copyfileobj(response, fh)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise FetchError(
            f"could not download {url}: {exc}. You seem to be offline or the host is unreachable. "
            "Download the file on a machine with internet access, copy it to "
            f"{target}, and point `xtalgen data prepare` at it."
        ) from exc


def fetch_benchmark(
    name: str, output: str | Path, *, base_url: str = CDVAE_DATA_URL, timeout: float = 60.0
) -> list[Path]:
    """Download ``name`` (mp_20, perov_5, carbon_24) into ``output``; verify known checksums.

    Already present files with a matching checksum are not downloaded again. Returns the file paths.
    """
    if name not in BENCHMARKS:
        raise FetchError(f"unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    sums: list[str] = []
    for remote in BENCHMARKS[name]:
        target = out / remote.name
        if not (target.is_file() and remote.sha256 and file_sha256(target) == remote.sha256):
            _download(f"{base_url.rstrip('/')}/{name}/{remote.name}", target, timeout)
        try:
            digest = verify_file(target, remote.sha256)
        except FetchError:
            target.unlink(missing_ok=True)
            raise
        status = "verified" if remote.sha256 else "unverified (no published digest known)"
        sums.append(f"{digest}  {remote.name}  # {status}")
        paths.append(target)
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return paths
