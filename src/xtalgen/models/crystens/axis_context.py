"""Context channels for a CrysTens denoiser: each position also sees its mirror entry and the consensus of
its row's and column's quantity over all atom slots (:func:`with_axis_context`), and optionally the header
entries of its row and column (:func:`with_header_context`).

Every lattice length, angle and the space group is repeated along a header row *and* down the mirrored
header column (one entry per atom slot), and whether a slot holds an atom is repeated down its column and
along its row. A convolutional UNet sees one position's neighbourhood: entry (i, j) and its mirror (j, i)
are far apart for most pairs, and the 2 x 20 repeats of a quantity are spread over the image. The context
gives every position, as input channels:

* the mirror entry ``x[j, i]`` (the CrysTens tensor is symmetric, the difference layers antisymmetric);
* the consensus of row i: the mean over atom slots k of ``(x[i, k] + x[k, i]) / 2``, i.e. over the row
  and the mirrored column repeats of whatever row i holds (for header row 7, the angle alpha);
* the consensus of column j, likewise.

This is the idea of CoordConv's extra input channels (Liu et al., NeurIPS 2018), here with data rather
than coordinates; averaging 40 noisy repeats cuts their noise ~6x. The network still writes every entry
itself: nothing is copied into the output.
"""

from __future__ import annotations

import torch

from xtalgen.representations.crystens.config import FIRST_ATOM

#: input channels per tensor channel with context: the value, its mirror, row consensus, column consensus
CONTEXT_FACTOR = 4


def _check_square(x: torch.Tensor, first_atom: int, name: str) -> None:
    if x.ndim != 4 or x.shape[-1] != x.shape[-2] or x.shape[-1] <= first_atom:
        raise ValueError(f"{name}: expected (B, C, N, N) with N > {first_atom}, got {tuple(x.shape)}")


def with_axis_context(x: torch.Tensor, first_atom: int = FIRST_ATOM) -> torch.Tensor:
    """(B, C, N, N) -> (B, 4C, N, N): ``x``, its transpose, and the row / column consensus (mean over atom
    slots ``first_atom:`` of the symmetrised tensor), broadcast back to N x N; grouped in that order."""
    _check_square(x, first_atom, "with_axis_context")
    mirror = x.transpose(-1, -2)
    sym = 0.5 * (x + mirror)
    consensus = sym[..., first_atom:].mean(dim=-1, keepdim=True)  # (B, C, N, 1): one value per row index
    rows = consensus.expand_as(x)
    cols = consensus.transpose(-1, -2).expand_as(x)  # sym is symmetric: column j's consensus = row j's
    return torch.cat([x, mirror, rows, cols], dim=1)


#: input channels per tensor channel added by :func:`with_header_context` (header columns + header rows)
HEADER_CONTEXT_FACTOR = 2 * FIRST_ATOM


def with_header_context(x: torch.Tensor, first_atom: int = FIRST_ATOM) -> torch.Tensor:
    """(B, C, N, N) -> (B, 2 first_atom C, N, N) extra channels (24C by default): at every position (i, j),
    the ``first_atom`` header entries of row i (``x[i, :12]``) and of column j (``x[:12, j]``).

    An entry of the atom-pair block, e.g. the x difference of atoms i and j, is a function of atom i's
    header (its row) and atom j's header (its column); with these channels a 1 x 1 convolution can compute
    it, where a 3 x 3 UNet would have to carry values across up to N pixels.
    """
    _check_square(x, first_atom, "with_header_context")
    b, c, n, _ = x.shape
    row_headers = x[..., :first_atom].permute(0, 1, 3, 2).unsqueeze(-1).expand(b, c, first_atom, n, n)
    col_headers = x[..., :first_atom, :].unsqueeze(-2).expand(b, c, first_atom, n, n)
    return torch.cat([row_headers, col_headers], dim=2).reshape(b, c * 2 * first_atom, n, n)
