"""Seed-faithful Numba kernels (heavy: imports numba). Sources and what differs from them are
in ``_seeds``. As the posts wrote them, these are plain ``@njit`` functions without
``cache=True``: every worker compiles them, and the cache is ``n/a``.

Each returns ``(result, probe)``: the probe is a one-element array built from a value the
kernel computed (``np.full`` takes its type), so the cell's dtype is read from the kernel's
data; it is the only addition to the posted code.
"""

from __future__ import annotations

import functools
import random
from typing import Any

import numba
import numpy as np
from numba import njit
from numba.experimental import jitclass


@njit
def lu_det(A):  # type: ignore[no-untyped-def]
    """The Numba article's ``numba_LUdet``: its NumPy row-slice loop under ``@numba.jit``
    (nopython, the default since Numba 0.59), in place on ``A``; pivots accumulated as sign
    and log-sum instead of a product that would overflow."""
    n = A.shape[0]
    sign = 1.0
    logdet = 0.0
    for i in range(n):
        pivot = A[i, i]
        if pivot < 0:
            sign = -sign
        logdet += np.log(np.abs(pivot))
        for j in range(i + 1, n):
            A[j][i] = A[j][i] / A[i][i]
            A[j][i + 1 :] = A[j][i + 1 :] - (A[j][i] * A[i][i + 1 :])
    return (sign, logdet), A


@njit
def mcpi(nsamples, seed):  # type: ignore[no-untyped-def]
    """The textbook loop under ``@njit``: Python's ``random`` module (Numba keeps its own
    Mersenne Twister for it, seeded here), ``x**2 + y**2 < 1.0``, an int counter."""
    random.seed(seed)
    acc = 0
    x = 0.0
    for _ in range(nsamples):
        x = random.random()
        y = random.random()
        if x**2 + y**2 < 1.0:
            acc += 1
    return 4.0 * acc / nsamples, np.full(1, x)


@functools.cache
def _node_class() -> Any:
    @jitclass([("key", numba.int64), ("bias", numba.float64)])
    class SeedNode:
        """The textbook ``@jitclass`` node: a typed key and bias, a ``mutate`` method."""

        def __init__(self, key, bias):  # type: ignore[no-untyped-def]
            self.key = key
            self.bias = bias

        def mutate(self):  # type: ignore[no-untyped-def]
            self.bias += np.random.random()

    return SeedNode


@functools.cache
def nodes() -> Any:
    """The textbook jitclass loop: build a list of nodes, ``mutate`` each with probability p,
    sum the biases; Numba's ``np.random`` seeded inside the jitted code."""
    SeedNode = _node_class()

    @njit
    def nodes_seed(n, p, seed):  # type: ignore[no-untyped-def]
        np.random.seed(seed)
        nodes = [SeedNode(i, 0.5) for i in range(n)]
        for node in nodes:
            if np.random.random() < p:
                node.mutate()
        total = 0.0
        for node in nodes:
            total += node.bias
        return total, np.full(1, nodes[0].bias)

    return nodes_seed
