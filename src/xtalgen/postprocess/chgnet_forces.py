"""CHGNet energies, forces and stresses of many structures from one batched forward and one backward pass.

``CHGNet.forward(task="efs")`` differentiates the energy twice (once for forces, once for stresses) and
keeps the graph for a second derivative (training needs it). A relaxation needs neither: here the total
energy of the batch is differentiated once with respect to every structure's atomic positions and strain
together, without building a second-order graph, which costs about a third less on a CPU. The numbers are
CHGNet's own (same model, same graphs, same formulas: force = -dE/dr, stress = (1/V) dE/dε); they agree
with ``CHGNet.forward`` to float32 rounding.

Uses CHGNet's ``BatchedGraph.from_graphs`` and the model's ``_compute`` (CHGNet ≥ 0.3; the energy part
of its forward pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xtalgen.postprocess.batched_fire import ForceResult

#: CHGNet reports stress in GPa as (1/V) dE/dε × this factor (eV/Å³ → GPa, CHGNet's ``model.py``).
_EV_PER_A3_TO_GPA = 160.21766208


def chgnet_forces(model: Any, graphs: Sequence[Any]) -> list[ForceResult]:
    """Energies, forces and stresses of CHGNet ``graphs`` (``CrystalGraph``s on the model's device)."""
    import torch
    from ase import units
    from chgnet.model.model import BatchedGraph

    batched = BatchedGraph.from_graphs(
        graphs, bond_basis_expansion=model.bond_basis_expansion,
        angle_basis_expansion=model.angle_basis_expansion, compute_stress=True,
    )  # fmt: skip
    prediction = model._compute(batched, compute_force=False, compute_stress=False)
    atoms = prediction["atoms_per_graph"]
    energy = prediction["e"]  # per atom when the model is intensive (CHGNet 0.3.0 is), else per structure
    total = (energy * atoms).sum() if model.is_intensive else energy.sum()
    grads = torch.autograd.grad(total, [*batched.atom_positions, *batched.strains])
    offset = 0.0 if model.composition_model is None else model.composition_model(graphs).detach()
    per_atom = (energy.detach() + offset) if model.is_intensive else (energy.detach() + offset) / atoms
    k = len(graphs)
    # CHGNet's ASE calculator converts its GPa back with ase.units.GPa; the same two factors here.
    to_ev_a3 = _EV_PER_A3_TO_GPA * units.GPa
    return [
        ForceResult(
            energy_per_atom=float(per_atom[i]),
            forces=-grads[i].detach().cpu().numpy().astype(np.float64),
            stress=(grads[k + i] / batched.volumes[i] * to_ev_a3).detach().cpu().numpy().astype(np.float64),
        )
        for i in range(k)
    ]


def chgnet_batch_forces(model: Any) -> Any:
    """A function from structures to :class:`ForceResult`\\ s (or the exception a structure raised) with ``model``.

    Graphs are made one structure at a time (an isolated atom fails only its structure); when the batched
    pass fails, each structure is evaluated alone so only the culprit fails.
    """

    def forces(structures: Sequence[Any]) -> list[ForceResult | Exception]:
        device = next(model.parameters()).device
        out: list[ForceResult | Exception] = []
        graphs: list[Any] = []
        where: list[int] = []
        for i, structure in enumerate(structures):
            try:
                graphs.append(model.graph_converter(structure).to(device))
                where.append(i)
                out.append(ValueError("not evaluated"))
            except Exception as exc:
                out.append(exc)
        if not graphs:
            return out
        try:
            results: list[ForceResult | Exception] = list(chgnet_forces(model, graphs))
        except Exception:
            results = []
            for graph in graphs:
                try:
                    results.append(chgnet_forces(model, [graph])[0])
                except Exception as exc:
                    results.append(exc)
        for i, result in zip(where, results, strict=True):
            out[i] = result
        return out

    return forces
