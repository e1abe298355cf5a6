"""Symmetry-constrained sampling: project every denoising step's x0 estimate onto the requested space group.

For a request (space group G, formula), the cell's atoms (:func:`~xtalgen.representations.crystens.
cell_composition.cell_numbers`) fix which Wyckoff assignments are possible
(:func:`~xtalgen.representations.crystens.wyckoff_projection.wyckoff_choices`). At each reverse step the
network's x0 estimate of every sample is read like the decoder reads a tensor (lattice = mean of its
repeats, coordinates = header + difference-layer estimates; :func:`~xtalgen.representations.crystens.
reconstruct.average`), projected onto G (:func:`~xtalgen.representations.crystens.wyckoff_projection.
project_cell`: crystal-system lattice, atoms on the orbits of the best Wyckoff choice) and written back as
the encoder writes that symmetric cell (:func:`~xtalgen.representations.crystens.encode.encode_cell`,
atoms in the encoder's order), so lattice, coordinates, differences and pair distances agree. The final
sample is projected once more. The space group of the output therefore comes from the constraint; the
network contributes the lattice size and the free Wyckoff parameters (and which Wyckoff choice is
nearest). The idea is that of Wyckoff-constrained crystal diffusion (DiffCSP++, Jiao et al. ICLR 2024),
applied as a projection at sampling time to a model trained without it.

The hook has the interface of :class:`~.imputation.Imputation` (``model_output``, ``apply``), so it is
passed to :func:`~.diffusion.denoise` in its place; the request's imputation, if given, runs first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from xtalgen.models.crystens.imputation import Imputation, output_from_x0, x0_from_output
from xtalgen.representations.crystens.cell import ordered_cell
from xtalgen.representations.crystens.config import CrysTensConfig
from xtalgen.representations.crystens.encode import encode_cell
from xtalgen.representations.crystens.reconstruct import average
from xtalgen.representations.crystens.wyckoff_projection import (
    WyckoffChoice,
    lattice_matrix,
    project_cell,
    wyckoff_choices,
)


@dataclass
class SymmetryProjection:
    """Projects (B, 4, N, N) x0 estimates onto ``spacegroup`` with the cell's atomic ``numbers`` (sorted).

    ``last``: (B, 2) max and RMS displacement (Å) of each sample's latest projected model estimate;
    ``displacements``: one such array per finished sampling run (appended by :meth:`apply`), and
    ``labels``: the Wyckoff choice of each sample's latest projection.
    """

    config: CrysTensConfig
    spacegroup: int
    numbers: np.ndarray
    choices: list[WyckoffChoice]
    imputation: Imputation | None = None
    last: np.ndarray | None = None
    last_labels: list[str] = field(default_factory=list)
    displacements: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @classmethod
    def for_request(
        cls, config: CrysTensConfig, spacegroup: int, numbers: np.ndarray, imputation: Imputation | None = None
    ) -> SymmetryProjection:
        """The projection for a request; ``ValueError`` naming the reason when the cell cannot have the group
        (no Wyckoff assignment holds its atoms, e.g. a primitive cell chosen because N is too small)."""
        if config.cell in ("primitive", "as_given"):
            raise ValueError(f"symmetry projection: needs conventional cells (CrysTens config cell='{config.cell}')")
        numbers = np.sort(np.asarray(numbers, dtype=np.int64))
        if len(numbers) > config.max_atoms:
            raise ValueError(f"symmetry projection: {len(numbers)} atoms do not fit a size-{config.size} CrysTens "
                             f"({config.max_atoms} atom slots)")  # fmt: skip
        try:
            choices = wyckoff_choices(numbers, spacegroup)
        except ValueError as exc:
            raise ValueError(
                f"symmetry projection: {exc}; a size-{config.size} CrysTens holds {config.max_atoms} atoms, so a "
                "larger conventional cell (formula units) may not fit"
            ) from None
        return cls(config, int(spacegroup), numbers, choices, imputation)

    def project(self, x0: torch.Tensor) -> tuple[torch.Tensor, np.ndarray, list[str]]:
        """(projected x0, (B, 2) max/RMS displacement in Å, Wyckoff choice labels) of a batch of estimates."""
        ct, n_atoms = self.config, len(self.numbers)
        slots = np.arange(n_atoms)
        max_length = ct.length.hi if ct.distance == "fractional" else min(ct.length.hi, ct.pair_distance.hi)
        arr = x0.detach().to("cpu", torch.float64).numpy()
        out = np.empty(arr.shape, dtype=np.float32)
        disp = np.zeros((len(arr), 2))
        labels = []
        for i, t in enumerate(arr):
            av = average(t, ct, slots)
            cell = project_cell(av.lattice, av.combined % 1.0, self.numbers, self.choices,
                                min_length=max(1.0, ct.length.lo), max_length=max_length)  # fmt: skip
            arrays = ordered_cell(lattice_matrix(cell.lattice), cell.frac, self.numbers, self.spacegroup, ct)
            out[i] = encode_cell(arrays, ct)
            disp[i] = cell.max_displacement, cell.rms_displacement
            labels.append(cell.choice.labels)
        return torch.from_numpy(out).to(x0.device, x0.dtype), disp, labels

    def model_output(
        self, out: torch.Tensor, xt: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor, prediction_type: str
    ) -> torch.Tensor:
        """The network output with its implied x0 imputed (if an imputation is set) and projected."""
        if self.imputation is not None:
            out = self.imputation.model_output(out, xt, t, alphas_cumprod, prediction_type)
        x0 = x0_from_output(out, xt, t, alphas_cumprod, prediction_type)
        x0, self.last, self.last_labels = self.project(x0)
        return output_from_x0(x0, xt, t, alphas_cumprod, prediction_type)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The final samples, imputed and projected; records the last step's displacements of this run."""
        if self.imputation is not None:
            x = self.imputation.apply(x)
        x, final, labels = self.project(x)
        self.displacements.append(self.last if self.last is not None else final)
        self.labels.extend(self.last_labels if self.last is not None else labels)
        self.last, self.last_labels = None, []
        return x
