"""Vectorised numpy operations that round exactly like the scalar calls pymatgen makes per pair of vectors.

pymatgen's neighbour and order-parameter code calls ``np.dot`` / ``np.inner`` / ``np.linalg.norm``
on single 3-vectors and ``math.acos`` on single numbers. Doing the same for thousands of vectors at
once with ``einsum`` or ``(a * b).sum(1)`` changes the rounding (OpenBLAS's dot kernel fuses
multiply-adds), and a one-ulp change is enough to reorder neighbours whose weights tie, which changes
order parameters that depend on neighbour order. The functions here give the scalar calls' results
bit for bit: each one checks once, on random input, that its vectorised form agrees with the scalar
call on this numpy/BLAS build, and otherwise loops over the scalar call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

Array = np.ndarray


def _matmul_rowdot(a: Array, b: Array) -> Array:
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def loop_rowdot(a: Array, b: Array) -> Array:
    """``[np.dot(a[i], b[i]) for i]`` (the reference the vectorised form must match)."""
    return np.array([np.dot(x, y) for x, y in zip(a, b, strict=True)], dtype=float).reshape(len(a))


def _loop_arccos(x: Array) -> Array:
    return np.array([math.acos(v) for v in x.ravel().tolist()], dtype=float).reshape(x.shape)


@lru_cache(maxsize=1)
def _rowdot_impl() -> Callable[[Array, Array], Array]:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3))
    ok = np.array_equal(_matmul_rowdot(a, b), loop_rowdot(a, b))
    ok = ok and np.array_equal(_matmul_rowdot(a, b), [np.inner(x, y) for x, y in zip(a, b, strict=True)])
    return _matmul_rowdot if ok else loop_rowdot


@lru_cache(maxsize=1)
def _arccos_impl() -> Callable[[Array], Array]:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-1, 1, 20000), [-1.0, 0.0, 1.0, 1 - 1e-16, -1 + 1e-16]])
    return np.arccos if np.array_equal(np.arccos(x), _loop_arccos(x)) else _loop_arccos


def loop_rows_times_matrix(rows: Array, matrix: Array) -> Array:
    """``[np.dot(row, matrix) for row in rows]`` (the reference for :func:`rows_times_matrix`)."""
    return np.array([np.dot(r, matrix) for r in rows], dtype=float).reshape(len(rows), matrix.shape[1])


def _matmul_rows_times_matrix(rows: Array, matrix: Array) -> Array:
    return np.matmul(rows, matrix)


@lru_cache(maxsize=1)
def _rows_times_matrix_impl() -> Callable[[Array, Array], Array]:
    rng = np.random.default_rng(2)
    ok = True
    for n in (1, 2, 3, 7, 64, 513):
        rows, matrix = rng.normal(size=(n, 3)) * 3, rng.normal(size=(3, 3)) * 5
        ok = ok and np.array_equal(np.matmul(rows, matrix), loop_rows_times_matrix(rows, matrix))
    return _matmul_rows_times_matrix if ok else loop_rows_times_matrix


def rows_times_matrix(rows: Array, matrix: Array) -> Array:
    """Each row of ``rows`` (N, 3) times a 3x3 ``matrix``, rounded exactly like ``np.dot(row, matrix)``
    per row (pymatgen's ``Lattice.get_cartesian_coords`` on one site)."""
    rows = np.ascontiguousarray(rows, dtype=float).reshape(-1, 3)
    return _rows_times_matrix_impl()(rows, np.ascontiguousarray(matrix, dtype=float))


def rowdot(a: Array, b: Array) -> Array:
    """Row-wise dot products of two (N, 3) arrays, rounded exactly like ``np.dot`` / ``np.inner`` on
    each pair of rows (so also ``np.linalg.norm(a[i]) == sqrt(rowdot(a, a)[i])``)."""
    a = np.ascontiguousarray(a, dtype=float).reshape(-1, 3)
    b = np.ascontiguousarray(b, dtype=float).reshape(-1, 3)
    return _rowdot_impl()(a, b)


def arccos(x: Array) -> Array:
    """Element-wise ``math.acos`` (values must lie in [-1, 1])."""
    return _arccos_impl()(np.asarray(x, dtype=float))
