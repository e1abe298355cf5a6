"""CrysTens -> Structure: robust reconstruction of a (possibly noisy, generated) tensor.

Steps (after Alverson et al. 2024, sec. 3.2, with the fixes listed in DESIGN.md): find the atoms from
the Z entries; symmetrise mirrored entries; average the 8 repeats of each atom value and the 8A
repeats of each lattice value; combine each atom's absolute coordinates with the A - 1 estimates from
the difference layers; cluster atomic numbers and coordinates with the number of clusters found
automatically; snap to the space group the tensor states when spglib finds it (coordinate clustering
is the fallback when it does not, since merging values can add symmetry the tensor did not state).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.representations.crystens.cluster import cluster_integers, cluster_periodic
from xtalgen.representations.crystens.config import CrysTensConfig
from xtalgen.representations.crystens.consistency import ConsistencyMetrics, _empty, consistency_metrics
from xtalgen.representations.crystens.reconstruct import average, check_tensor, present_slots
from xtalgen.representations.crystens.spacegroup_snap import DEFAULT_SNAP_TOLERANCES, snap_cell

MAX_Z = 118


@dataclass(frozen=True)
class DecodeOptions:
    """Choices made when reading a tensor back (the normalisation itself lives in :class:`CrysTensConfig`).

    Attributes:
        presence_threshold: normalised Z level above which a slot holds an atom (None: config default).
        z_merge_penalty: cost of one more distinct element when assigning atomic numbers, in units of
            the log-likelihood of the Z noise (0 = plain rounding; see :func:`.cluster.cluster_integers`).
        z_noise_floor: smallest noise (Z units) assumed for a per-atom mean Z; the noise is otherwise
            estimated from the spread of the 8 repeats.
        coord_cluster_tol: largest spread (Å along each axis) of coordinate values merged into one (0 = off);
            applied only when the structure was not snapped to its stated space group.
        snap_symmetry: snap onto the space group the tensor states when spglib finds it.
        snap_tolerances: spglib tolerances (Å) tried in order when snapping.
        angle_tolerance: spglib angle tolerance (degrees).
        metrics: compute the self-consistency metrics.
        coordinate_consensus: each atom's coordinates are the mean of its header entries and the A - 1
            estimates from the difference layers (False: the header entries alone).
    """

    presence_threshold: float | None = None
    z_merge_penalty: float = 2.0
    z_noise_floor: float = 0.1
    coord_cluster_tol: float = 0.1
    snap_symmetry: bool = True
    snap_tolerances: tuple[float, ...] = DEFAULT_SNAP_TOLERANCES
    angle_tolerance: float = 5.0
    metrics: bool = True
    coordinate_consensus: bool = True


@dataclass(frozen=True)
class DecodeResult:
    """A decoded structure (None with a ``reason`` when decoding failed) and per-sample diagnostics.

    ``reason`` is ``""`` on success, else ``"non_finite"`` (NaN/inf entries), ``"no_atoms"`` (no Z entry
    above the empty level) or ``"invalid_lattice"`` (non-positive lengths, angles outside (0, 180) degrees
    or no volume). ``symmetry`` says whether the stated space group was applied (``"snapped"``), not found
    by spglib within the snap tolerances (``"not_found"``; ``spacegroup_found`` is then what spglib found at
    the largest tolerance) or not tried (``"disabled"``).
    """

    structure: Structure | None
    reason: str = ""
    n_atoms: int = 0
    n_species: int = 0
    spacegroup_stated: int | None = None
    spacegroup_found: int | None = None
    symmetry: str = ""  # "snapped", "not_found", "disabled" or "" when decoding failed
    snap_tolerance: float | None = None
    metrics: ConsistencyMetrics = field(default_factory=_empty)

    @property
    def ok(self) -> bool:
        return self.structure is not None

    def row(self) -> dict[str, Any]:
        """Flat diagnostics for a CSV row (no structure)."""
        out: dict[str, Any] = {
            "decoded": self.ok, "reason": self.reason, "n_atoms": self.n_atoms, "n_species": self.n_species,
            "spacegroup_stated": self.spacegroup_stated, "spacegroup_found": self.spacegroup_found,
            "symmetry": self.symmetry, "snap_tolerance": self.snap_tolerance,
        }  # fmt: skip
        out.update({k: v for k, v in self.metrics.as_dict().items() if k != "n_atoms"})
        return out


def _lattice(params: np.ndarray) -> Lattice | None:
    a, b, c, al, be, ga = (float(v) for v in params)
    if min(a, b, c) <= 0.1 or not all(0.0 < x < 180.0 for x in (al, be, ga)):
        return None
    lat = Lattice.from_parameters(a, b, c, al, be, ga)
    vol = lat.volume
    if not math.isfinite(vol) or vol < 1e-3 * a * b * c:
        return None
    return lat


def decode(tensor: np.ndarray, config: CrysTensConfig | None = None,
           options: DecodeOptions | None = None) -> DecodeResult:
    """Decode one (4, N, N) CrysTens into a :class:`DecodeResult`; the tensor is not modified.

    Failures that a generated tensor can have (non-finite values, no atoms, impossible lattice) give a
    result with ``structure=None`` and a ``reason``; a wrong shape raises ``ValueError``.
    """
    config = config or CrysTensConfig()
    options = options or DecodeOptions()
    t = check_tensor(tensor, config)
    if not np.all(np.isfinite(t)):
        return DecodeResult(None, reason="non_finite")
    slots = present_slots(t, config, options.presence_threshold)
    n = len(slots)
    if n == 0:
        return DecodeResult(None, reason="no_atoms")
    av = average(t, config, slots)
    metrics = consistency_metrics(t, config, slots, av) if options.metrics else _empty()
    sg = int(np.clip(np.rint(av.spacegroup), 1, 230))
    lattice = _lattice(av.lattice)
    if lattice is None:
        return DecodeResult(None, reason="invalid_lattice", n_atoms=n, spacegroup_stated=sg, metrics=metrics)

    z_sigma = max(av.z_noise, options.z_noise_floor)
    z_vals, _ = cluster_integers(av.atom_values[0], z_sigma, options.z_merge_penalty)
    numbers = np.clip(np.rint(z_vals), 1, MAX_Z).astype(int)
    frac = (av.combined if options.coordinate_consensus else av.absolute) % 1.0
    n_species = len(set(numbers.tolist()))
    status, tol, found = "disabled", None, None
    if options.snap_symmetry:
        snap = snap_cell((lattice.matrix, frac, numbers), sg, options.snap_tolerances, options.angle_tolerance)
        status, tol, found = snap.status, snap.tolerance, snap.found
        if snap.status == "snapped":
            return DecodeResult(snap.structure, "", n, n_species, sg, found, status, tol, metrics)
    # not snapped: merge nearly equal coordinate values instead (may add symmetry, so only as a fallback)
    if options.coord_cluster_tol > 0:
        for k, length in enumerate(lattice.abc):
            frac[:, k], _ = cluster_periodic(frac[:, k], options.coord_cluster_tol / length)
    structure = Structure(lattice, numbers.tolist(), frac, coords_are_cartesian=False)
    return DecodeResult(structure, "", n, n_species, sg, found, status, tol, metrics)


def _decode_chunk(args: tuple[np.ndarray, dict[str, Any], DecodeOptions]) -> list[DecodeResult]:
    tensors, config_dict, options = args
    config = CrysTensConfig.from_dict(config_dict)
    return [decode(t, config, options) for t in tensors]


def decode_many(tensors: Iterable[np.ndarray], config: CrysTensConfig | None = None,
                options: DecodeOptions | None = None, progress: bool = False, workers: int = 1,
                chunk_size: int = 32) -> list[DecodeResult]:
    """Decode a stack/iterable of tensors, in order, over ``workers`` processes (rich progress bar if asked)."""
    config = config or CrysTensConfig()
    options = options or DecodeOptions()
    total = len(tensors) if hasattr(tensors, "__len__") else None  # type: ignore[arg-type]
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress()
        bar.start()
        task = bar.add_task("decoding CrysTens", total=total)
    out: list[DecodeResult] = []
    try:
        if workers <= 1:
            for t in tensors:
                out.append(decode(t, config, options))
                if bar is not None:
                    bar.advance(task)
            return out
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor

        def chunks() -> Iterable[np.ndarray]:
            buf: list[np.ndarray] = []
            for t in tensors:
                buf.append(np.asarray(t, dtype=np.float32))
                if len(buf) == chunk_size:
                    yield np.stack(buf)
                    buf = []
            if buf:
                yield np.stack(buf)

        cfg = config.to_dict()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            window: deque[Any] = deque()
            for chunk in chunks():  # at most 4 chunks per worker in flight: memory stays bounded
                window.append(pool.submit(_decode_chunk, (chunk, cfg, options)))
                while len(window) > 4 * workers or (window and window[0].done()):
                    part = window.popleft().result()
                    out.extend(part)
                    if bar is not None:
                        bar.advance(task, len(part))
            while window:
                part = window.popleft().result()
                out.extend(part)
                if bar is not None:
                    bar.advance(task, len(part))
        return out
    finally:
        if bar is not None:
            bar.stop()
