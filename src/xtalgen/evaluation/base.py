"""The Metric protocol and the evaluation context metrics read from (features computed once, cached)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from xtalgen.evaluation.cache import JsonlCache, structure_key
from xtalgen.evaluation.features import basic_features, reduced_cell_features
from xtalgen.evaluation.fingerprints import fingerprint_job
from xtalgen.evaluation.parallel import make_pool, map_cached
from xtalgen.evaluation.sources import GeneratedSet, ReferenceSet
from xtalgen.evaluation.symmetry_keys import wyckoff_keys_job


@runtime_checkable
class Metric(Protocol):
    """One metric: what it needs, optional per-sample values, aggregate numbers.

    ``needs`` names inputs among ``structures``, ``train``, ``test``, ``crystens_diagnostics``,
    ``stability``; the runner skips a metric whose needs are not available.
    """

    name: str
    needs: frozenset[str]

    def per_sample(self, ctx: EvalContext) -> np.ndarray | None: ...

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]: ...


@dataclass
class EvalContext:
    """Inputs and shared, lazily computed features for one evaluation.

    ``results`` holds each finished metric's per-sample array (by metric name) so later metrics can
    use it (e.g. S.U.N. uses uniqueness and novelty); ``columns`` holds extra per-sample columns.
    """

    generated: GeneratedSet
    train: ReferenceSet | None = None
    test: ReferenceSet | None = None
    cache_dir: Path | None = None
    workers: int = 2
    progress: bool = True
    results: dict[str, np.ndarray] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    # --- caching / parallel helpers -------------------------------------------------------------
    def cache(self, *parts: str) -> JsonlCache:
        """The on-disk cache ``cache_dir/<parts...>.jsonl`` (in memory when no cache_dir)."""
        if self.cache_dir is None:
            key = "/".join(parts)
            return self._memo.setdefault(f"cache:{key}", JsonlCache(None))
        return JsonlCache(Path(self.cache_dir, *parts[:-1], parts[-1] + ".jsonl"))

    def map(
        self,
        func: Callable[[Any], Any],
        items: Sequence[tuple[str, Any]],
        cache: JsonlCache,
        description: str,
        load: Callable[[Any], Any] | None = None,
    ) -> dict[str, Any]:
        todo = sum(1 for k, _ in items if k not in cache)
        pool = self.pool() if self.workers > 1 and todo > 8 else None
        return map_cached(
            func, items, cache, workers=self.workers if pool else 1, description=description,
            progress=self.progress, load=load, pool=pool,
        )  # fmt: skip

    def pool(self) -> ProcessPoolExecutor:
        """One process pool for the whole evaluation; heavy libraries are imported first so the
        forked workers inherit them instead of importing them again."""
        if "pool" not in self._memo:
            _warm_imports()
            self._memo["pool"] = make_pool(self.workers)
        return self._memo["pool"]

    def close(self) -> None:
        """Shut down the worker processes (if any were started)."""
        pool = self._memo.pop("pool", None)
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    # --- generated samples ------------------------------------------------------------------------
    @property
    def sample_keys(self) -> list[str | None]:
        """Cache key per generated sample (id + content hash), None when it has no structure."""
        if "keys" not in self._memo:
            self._memo["keys"] = [
                None if s is None else f"{i}:{structure_key(s)}"
                for i, s in zip(self.generated.ids, self.generated.structures, strict=True)
            ]
        return self._memo["keys"]

    def generated_features(self) -> pd.DataFrame:
        """One row per submitted sample: validity flags and descriptors (NaN/False without a structure)."""
        if "gen_features" not in self._memo:
            keys = self.sample_keys
            items = [(k, s) for k, s in zip(keys, self.generated.structures, strict=True) if k is not None]
            done = self.map(basic_features, items, self.cache("generated", "basic"), "sample features")
            rows = []
            for k, reason in zip(keys, self.generated.reasons, strict=True):
                row = dict(done[k]) if k is not None else {}
                if "error" in row:
                    row = {"struct_reason": f"feature error: {row['error']}"}
                row.setdefault("struct_valid", False)
                row.setdefault("comp_valid", False)
                if k is None:
                    row["struct_reason"] = reason or "no structure"
                rows.append(row)
            frame = pd.DataFrame(rows, index=range(len(rows)))
            frame.insert(0, "id", self.generated.ids)
            self._memo["gen_features"] = frame
        return self._memo["gen_features"]

    def valid_mask(self) -> np.ndarray:
        """Structurally valid samples (the ones uniqueness, novelty, coverage and stability look at)."""
        return self.generated_features()["struct_valid"].to_numpy(dtype=bool)

    def generated_fingerprints(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sample indices, structure fps, composition fps) for the samples in ``mask`` that featurised."""
        keys = self.sample_keys
        idx = [i for i in np.nonzero(mask)[0] if keys[i] is not None]
        items = [(keys[i], self.generated.structures[i]) for i in idx]
        done = self.map(fingerprint_job, items, self.cache("generated", "fingerprint"), "sample fingerprints")
        return _stack([(i, done[keys[i]]) for i in idx])

    def generated_cell_features(self) -> pd.DataFrame:
        """Descriptors of the primitive Niggli-reduced cells of the valid samples (one row each)."""
        if "gen_cells" not in self._memo:
            keys = self.sample_keys
            idx = [int(i) for i in np.nonzero(self.valid_mask())[0] if keys[i] is not None]
            items = [(keys[i], self.generated.structures[i]) for i in idx]
            done = self.map(reduced_cell_features, items, self.cache("generated", "reduced-cell"), "reduced cells")
            rows = [done[keys[i]] for i in idx]
            self._memo["gen_cells"] = pd.DataFrame([r for r in rows if "error" not in r])
        return self._memo["gen_cells"]

    def reference_cell_features(self, which: str) -> pd.DataFrame:
        """Descriptors of the primitive Niggli-reduced cells of the train or test set (cached by id)."""
        memo = f"ref_cells:{which}"
        if memo not in self._memo:
            ref = self.reference(which)
            items = list(zip(ref.ids, range(len(ref)), strict=True))
            cache = self.cache(f"ref-{ref.fingerprint}", "reduced-cell")
            done = self.map(reduced_cell_features, items, cache, f"{which} reduced cells", load=ref.payload)
            self._memo[memo] = pd.DataFrame([r for r in (done[rid] for rid in ref.ids) if "error" not in r])
        return self._memo[memo]

    def generated_wyckoff_keys(self) -> list[dict[str, Any] | None]:
        """Per sample: :func:`~xtalgen.evaluation.symmetry_keys.wyckoff_keys` (None when invalid)."""
        if "wyckoff" not in self._memo:
            keys = self.sample_keys
            idx = [int(i) for i in np.nonzero(self.valid_mask())[0] if keys[i] is not None]
            items = [(keys[i], self.generated.structures[i]) for i in idx]
            done = self.map(wyckoff_keys_job, items, self.cache("generated", "wyckoff"), "Wyckoff keys")
            out: list[dict[str, Any] | None] = [None] * len(keys)
            for i in idx:
                rec = done[keys[i]]
                out[i] = rec if isinstance(rec, dict) and "decoration" in rec else None
            self._memo["wyckoff"] = out
        return self._memo["wyckoff"]

    def reference_wyckoff_keys(self, which: str) -> list[dict[str, Any]]:
        """Wyckoff keys of every structure of the train or test set (cached by reference id)."""
        ref = self.reference(which)
        items = list(zip(ref.ids, range(len(ref)), strict=True))
        cache = self.cache(f"ref-{ref.fingerprint}", "wyckoff")
        done = self.map(wyckoff_keys_job, items, cache, f"{which} Wyckoff keys", load=ref.payload)
        return [done[rid] for rid in ref.ids]

    # --- reference sets ---------------------------------------------------------------------------
    def reference(self, which: str) -> ReferenceSet:
        ref = self.train if which == "train" else self.test if which == "test" else None
        if ref is None:
            raise ValueError(f"this evaluation has no {which} set")
        return ref

    def reference_features(self, which: str) -> pd.DataFrame:
        """Descriptors of every structure of the train or test set (cached by reference id; taken from
        the source when it knows them, e.g. a compact structure table)."""
        memo = f"ref_features:{which}"
        if memo not in self._memo and self.reference(which).features is not None:
            self._memo[memo] = self.reference(which).features()  # type: ignore[misc]
        if memo not in self._memo:
            ref = self.reference(which)
            items = list(zip(ref.ids, range(len(ref)), strict=True))
            cache = self.cache(f"ref-{ref.fingerprint}", "basic")
            done = self.map(basic_features, items, cache, f"{which} features", load=ref.payload)
            rows = [done[rid] for rid in ref.ids]
            frame = pd.DataFrame([r for r in rows if "error" not in r])
            self._memo[memo] = frame
        return self._memo[memo]

    def reference_fingerprints(self, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(reference indices, structure fps, composition fps) of the train or test set."""
        ref = self.reference(which)
        items = list(zip(ref.ids, range(len(ref)), strict=True))
        cache = self.cache(f"ref-{ref.fingerprint}", "fingerprint")
        done = self.map(fingerprint_job, items, cache, f"{which} fingerprints", load=ref.payload)
        return _stack([(i, done[rid]) for i, rid in enumerate(ref.ids)])


def _warm_imports() -> None:
    """Import the libraries the per-sample jobs use (before forking workers)."""
    import pymatgen.analysis.structure_matcher  # noqa: F401
    import pymatgen.symmetry.analyzer  # noqa: F401
    import smact.screening  # noqa: F401

    from xtalgen.evaluation.fingerprints import _composition_featurizer, _site_featurizer

    _site_featurizer()
    _composition_featurizer()


def _stack(rows: list[tuple[int, dict[str, Any]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ok = [(i, r) for i, r in rows if isinstance(r, dict) and "struct" in r and r["struct"] is not None]
    if not ok:
        return np.zeros(0, dtype=int), np.zeros((0, 61)), np.zeros((0, 132))
    idx = np.array([i for i, _ in ok], dtype=int)
    struct = np.array([r["struct"] for _, r in ok], dtype=float)
    comp = np.array([r["comp"] for _, r in ok], dtype=float)
    return idx, np.nan_to_num(struct), np.nan_to_num(comp)
