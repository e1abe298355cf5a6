"""Weights of the diffusion denoising loss: per CrysTens entry (by entry type) and per timestep (min-SNR-γ).

Per entry: a CrysTens is mostly positions that are empty in every tensor, pair-block entries and padding
(N = 32: 1,600 pair and 736 always-empty entries of 4,096; the 11 header quantities share 1,760). With
plain MSE each header quantity (e.g. the 160 Z entries that decide whether an atom slot is filled) weighs
as little as its share. ``"inverse_frequency"`` gives each of the 7 entry types of
:data:`~xtalgen.representations.crystens.entry_types.ENTRY_TYPES` the same total weight; ``"header"``
multiplies every header entry (rows/columns 0-10 over the atom slots) by ``header_weight``. Weights are
rescaled to mean 1, so the loss keeps the scale of plain MSE (and equals it for ``"uniform"``).

Per timestep: min-SNR-γ (Hang et al., ICCV 2023) caps the weight of low-noise timesteps at SNR = γ,
expressed for the network's prediction target; weights lie in (0, 1].
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from xtalgen.representations.crystens.entry_types import ENTRY_TYPES, HEADER_ROW_TYPES, entry_type_map

EntryWeighting = Literal["uniform", "inverse_frequency", "header"]
ENTRY_WEIGHTINGS: tuple[str, ...] = ("uniform", "inverse_frequency", "header")


def entry_weights(size: int, scheme: str = "uniform", header_weight: float = 10.0) -> torch.Tensor:
    """Loss weight of every entry of a (4, size, size) CrysTens, float32, mean 1 (see module docstring)."""
    types = entry_type_map(size)
    if scheme == "uniform":
        w = np.ones(types.shape)
    elif scheme == "inverse_frequency":
        counts = np.bincount(types.ravel(), minlength=len(ENTRY_TYPES)).astype(np.float64)
        w = (1.0 / counts)[types]
    elif scheme == "header":
        if not header_weight > 0:
            raise ValueError(f"header_weight: must be > 0, got {header_weight}")
        header_codes = [ENTRY_TYPES.index(n) for n in sorted(set(HEADER_ROW_TYPES))]
        w = np.where(np.isin(types, header_codes), header_weight, 1.0)
    else:
        raise ValueError(f"loss_weights: must be one of {list(ENTRY_WEIGHTINGS)}, got {scheme!r}")
    return torch.from_numpy((w / w.mean()).astype(np.float32))


def min_snr_weights(alphas_cumprod: torch.Tensor, t: torch.Tensor, gamma: float, prediction_type: str) -> torch.Tensor:
    """Min-SNR-γ weight (B,) of each timestep in ``t`` for the given prediction target, in (0, 1].

    SNR = ᾱ / (1 - ᾱ). Loss on x0: min(SNR, γ) / γ (Hang et al.'s min(SNR, γ), scaled by 1/γ); on ε:
    min(SNR, γ) / SNR; on v: min(SNR, γ) / (SNR + 1).
    """
    if not gamma > 0:
        raise ValueError(f"min_snr_gamma: must be > 0, got {gamma}")
    a = alphas_cumprod.to(t.device)[t].double()
    snr = a / (1.0 - a)
    capped = torch.clamp(snr, max=gamma)
    if prediction_type == "sample":
        w = capped / gamma
    elif prediction_type == "epsilon":
        w = capped / snr
    elif prediction_type == "v_prediction":
        w = capped / (snr + 1.0)
    else:
        raise ValueError(f"unknown prediction_type {prediction_type!r}")
    return w.float()
