"""Pairwise distances between n points in 3-D: an n x n result, memory-bound as n grows.

    jitscope run -w examples/pairwise.py -b numpy,numba,numba:parallel,jax,tensorflow,torch -s 100,1000,3000

What it shows: the broadcasting versions (NumPy, JAX, torch, TF) materialise an n x n x 3
temporary before reducing it, the loop versions (Numba) write each distance once. At small n
everything is call overhead; as n grows the peak memory column (peak_host_bytes) and the
GB/s column tell who is moving three times more data than the answer needs.
"""

import numpy as np

import jitscope

try:  # numba:parallel spreads the rows over cores; without numba the loop is a plain range
    from numba import prange
except ImportError:  # pragma: no cover
    prange = range

pairwise = jitscope.workload(
    "pairwise", inputs=lambda n, rng: {"p": rng.standard_normal((n, 3))}, sizes=(100, 1000),
    description="Euclidean distance matrix of n points in 3-D",
    flops=lambda n: 8 * n * n, bytes=lambda n: 8 * n * n,
)


@pairwise.reference
def _(p):
    diff = p[:, None, :] - p[None, :, :]
    return np.sqrt((diff * diff).sum(axis=-1))


@pairwise.kernel("python", lists=True)
def _(p):
    return [[((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2) ** 0.5 for b in p] for a in p]


@pairwise.kernel("numpy")
def _(p):
    diff = p[:, None, :] - p[None, :, :]
    return np.sqrt((diff * diff).sum(axis=-1))


@pairwise.kernel("numba")                 # one loop nest for numba:default and numba:parallel
def _(p):
    n = p.shape[0]
    out = np.empty((n, n), dtype=p.dtype)
    for i in prange(n):
        for j in range(n):
            s = 0.0
            for k in range(3):
                d = p[i, k] - p[j, k]
                s += d * d
            out[i, j] = np.sqrt(s)
    return out


@pairwise.kernel("jax")
def _(p):
    import jax.numpy as jnp

    diff = p[:, None, :] - p[None, :, :]
    return jnp.sqrt(jnp.sum(diff * diff, axis=-1))


@pairwise.kernel("tensorflow")
def _(p):
    import tensorflow as tf

    diff = tf.expand_dims(p, 1) - tf.expand_dims(p, 0)
    return tf.sqrt(tf.reduce_sum(diff * diff, axis=-1))


@pairwise.kernel("torch")
def _(p):
    import torch

    diff = p[:, None, :] - p[None, :, :]
    return torch.sqrt((diff * diff).sum(dim=-1))
