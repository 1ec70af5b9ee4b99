"""log-sum-exp, the kernel under every softmax: where float32 overflows if you are naive.

    jitscope run -w examples/logsumexp.py -b python,numpy,numba,jax,tensorflow,torch --dtype float32

What it shows: ``logsumexp`` subtracts the maximum first, so every backend stays accurate in
float32 even though the inputs reach 200 (``exp(200)`` is ~7e86, far beyond float32's 3e38).
``logsumexp_naive`` is the textbook ``log(sum(exp(x)))``: fine in float64, ``inf`` in float32,
and jitscope reports those cells as failed ("inaccurate"), not as fast. Speed-wise this is a
memory-bound reduction: the array libraries and a Numba loop should be within a small factor.
"""

import math

import numpy as np

import jitscope


def _inputs(n, rng):
    return {"x": rng.uniform(-200.0, 200.0, n)}


logsumexp = jitscope.workload(
    "logsumexp", inputs=_inputs, sizes=(10_000, 1_000_000),
    description="log(sum(exp(x))) with the max subtracted first (stable)",
    flops=lambda n: 3 * n, bytes=lambda n: 8 * n,
)


@logsumexp.reference
def _(x):
    m = x.max()
    return m + math.log(np.exp(x - m).sum())


@logsumexp.kernel("python", lists=True)
def _(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


@logsumexp.kernel("numpy")
def _(x):
    m = x.max()
    return m + np.log(np.exp(x - m).sum())


@logsumexp.kernel("numba")
def _(x):
    m = x[0]
    for v in x:
        m = max(m, v)
    s = 0.0
    for v in x:
        s += np.exp(v - m)
    return m + np.log(s)


@logsumexp.kernel("jax")
def _(x):
    import jax.numpy as jnp

    m = jnp.max(x)
    return m + jnp.log(jnp.sum(jnp.exp(x - m)))


@logsumexp.kernel("tensorflow")
def _(x):
    import tensorflow as tf

    return tf.reduce_logsumexp(x)


@logsumexp.kernel("torch")
def _(x):
    import torch

    return torch.logsumexp(x, dim=0)


logsumexp_naive = jitscope.workload(
    "logsumexp_naive", inputs=_inputs, sizes=(10_000, 1_000_000),
    description="log(sum(exp(x))) as written in the textbook: overflows in float32",
)


@logsumexp_naive.reference
def _(x):
    m = x.max()
    return m + math.log(np.exp(x - m).sum())


@logsumexp_naive.kernel("numpy")
def _(x):
    return np.log(np.exp(x).sum())


@logsumexp_naive.kernel("torch")
def _(x):
    import torch

    return torch.log(torch.exp(x).sum())
