"""A small suite in the style of the public kernel suites: several size parameters, presets,
an in-place stencil, an integer checksum, a float32-only kernel, library options.

    jitscope run -w examples/kernel_suite.py -b numpy,numba,jax -s S
    jitscope run -w examples/kernel_suite.py:heat -b numpy,numba -s M -p steps=50
    jitscope run -w examples/kernel_suite.py:checksum -b python,numpy,numba -s checksum=1e5,1e6
    jitscope run -w examples/kernel_suite.py:softmax -b numpy,jax --dtype float32 -p inputs=fresh
"""

import numba
import numpy as np

import jitscope

# ---- heat: explicit 2-D diffusion, updated in place ------------------------------------------
# Three size parameters, two presets; the kernels overwrite their grid, so the workload asks
# for a fresh copy of it before every timed call (made outside the timed region).
heat = jitscope.workload(
    "heat",
    inputs=lambda nx, ny, rng: {"u": rng.random((nx, ny))},
    params={"nx": 64, "ny": 64, "steps": 10},
    presets={"S": {"nx": 64, "ny": 64, "steps": 10}, "M": {"nx": 256, "ny": 256, "steps": 20}},
    fresh_inputs=True,
    flops=lambda nx, ny, steps: 6.0 * nx * ny * steps,
    memory=lambda nx, ny: 8 * nx * ny * 4,
)


@heat.reference
def _(u, steps):
    for _ in range(steps):
        u[1:-1, 1:-1] += 0.2 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1])
    return u


@heat.kernel("numpy")
def _(u, steps):
    for _ in range(steps):
        u[1:-1, 1:-1] += 0.2 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1])
    return u


@numba.njit(cache=True)  # a helper at module level, cached itself: the kernel's cache holds (README)
def _laplacian(u, i, j):
    return u[i + 1, j] + u[i - 1, j] + u[i, j + 1] + u[i, j - 1] - 4.0 * u[i, j]


@heat.kernel("numba", fastmath=True)  # passed to numba.njit as written
def _(u, steps):
    nx, ny = u.shape
    new = np.empty_like(u)
    for _ in range(steps):
        new[:, :] = u
        for i in range(1, nx - 1):
            for j in range(1, ny - 1):
                new[i, j] = u[i, j] + 0.2 * _laplacian(u, i, j)
        u[:, :] = new
    return u


@heat.kernel("jax", static_argnames=("steps",))  # a Python loop over a static count
def _(u, steps):
    for _ in range(steps):
        inner = u[1:-1, 1:-1] + 0.2 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1])
        u = u.at[1:-1, 1:-1].set(inner)
    return u


# ---- checksum: an integer result, compared exactly --------------------------------------------
checksum = jitscope.workload(
    "checksum",
    inputs=lambda n, rng: {"data": rng.integers(0, 256, n, dtype=np.uint8)},
    sizes=(10_000, 100_000),
    memory=lambda n: 4 * n,
)


# Both decorators return the function, so the NumPy kernel can be the reference as well.
@checksum.reference
@checksum.kernel("numpy")
def _(data):
    weights = np.arange(1, data.size + 1, dtype=np.int64) % 65521
    return int((weights * data.astype(np.int64) % 65521).sum() % 65521)


@checksum.kernel("python")
def _(data):
    total = 0
    for i, byte in enumerate(data.tolist()):
        total = (total + ((i + 1) % 65521) * byte) % 65521
    return total


@checksum.kernel("numba")
def _(data):
    total = 0
    for i in range(data.size):
        total = (total + ((i + 1) % 65521) * np.int64(data[i])) % 65521
    return total


@checksum.kernel("jax")
def _(data):
    import jax.numpy as jnp

    weights = jnp.arange(1, data.size + 1, dtype=jnp.int64) % 65521
    return (weights * data.astype(jnp.int64) % 65521).sum() % 65521


# ---- softmax: float32 only, NaN where a row is all -inf ----------------------------------------
def _logits(rows, cols, rng):
    x = rng.standard_normal((rows, cols))
    x[0] = -np.inf  # a fully masked row: softmax is 0/0 there, NaN in every library
    return {"x": x}


softmax = jitscope.workload(
    "softmax",
    inputs=_logits,
    params={"rows": 64, "cols": 256},
    presets={"S": {"rows": 64, "cols": 256}, "M": {"rows": 1024, "cols": 1024}},
    dtypes=("float32",),
    tolerance=1e-5,
    size=lambda rows, cols: rows * cols,
)


@softmax.reference
def _(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@softmax.kernel("numpy")
def _(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@softmax.kernel("numba")
def _(x):
    out = np.empty_like(x)
    for r in range(x.shape[0]):
        m = x[r].max()
        e = np.exp(x[r] - m)
        out[r] = e / e.sum()
    return out


@softmax.kernel("jax")
def _(x):
    import jax

    return jax.nn.softmax(x, axis=1)
