"""An exponential moving average: a weighted prefix sum, where loop JITs beat array libraries.

    jitscope run -w examples/ema.py -b python,numpy,numba,jax,tensorflow,torch -s 1000,100000

``y[i] = a*y[i-1] + (1-a)*x[i]`` depends on the previous output, so it does not vectorise:
NumPy and torch are left with a Python loop over elements (each step a library call), JAX
and TensorFlow with a compiled scan (``lax.scan``, ``tf.scan``), Numba with the plain loop.
Expect Numba far ahead, the scans next, and the eager array libraries behind pure Python.
"""

import numpy as np

import jitscope

ema = jitscope.workload(
    "ema", inputs=lambda n, rng: {"x": rng.standard_normal(n), "a": 0.9}, sizes=(1_000, 100_000),
    description="exponential moving average (a linear recurrence)",
    flops=lambda n: 3 * n, bytes=lambda n: 16 * n,
)


@ema.reference
def _(x, a):
    y = np.empty_like(x)
    acc = 0.0
    for i, v in enumerate(x.tolist()):
        acc = a * acc + (1.0 - a) * v
        y[i] = acc
    return y


@ema.kernel("python", lists=True)
def _(x, a):
    out = []
    acc = 0.0
    for v in x:
        acc = a * acc + (1.0 - a) * v
        out.append(acc)
    return out


@ema.kernel("numpy")
def _(x, a):
    y = np.empty_like(x)
    acc = x.dtype.type(0)
    b = x.dtype.type(1.0 - a)
    a = x.dtype.type(a)
    for i in range(x.shape[0]):
        acc = a * acc + b * x[i]
        y[i] = acc
    return y


@ema.kernel("numba")
def _(x, a):
    y = np.empty_like(x)
    acc = 0.0
    for i in range(x.shape[0]):
        acc = a * acc + (1.0 - a) * x[i]
        y[i] = acc
    return y


@ema.kernel("jax")
def _(x, a):
    from jax import lax

    def step(acc, v):
        acc = a * acc + (1.0 - a) * v
        return acc, acc

    return lax.scan(step, x[0] * 0, x)[1]


@ema.kernel("tensorflow")
def _(x, a):
    import tensorflow as tf

    return tf.scan(lambda acc, v: a * acc + (1.0 - a) * v, x, initializer=tf.zeros([], x.dtype))


@ema.kernel("torch")
def _(x, a):
    import torch

    y = torch.empty_like(x)
    acc = torch.zeros((), dtype=x.dtype)
    for i in range(x.shape[0]):
        acc = a * acc + (1.0 - a) * x[i]
        y[i] = acc
    return y
