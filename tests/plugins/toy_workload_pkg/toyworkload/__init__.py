"""A toy jitscope workload written with the public API, packaged (test plugin package): its
entry point names the object ``jitscope.workload(...)`` returns, as a user's file defines it."""

import numpy as np

import jitscope

WORKLOAD = jitscope.workload("toyhalves", inputs=lambda n, rng: {"x": rng.random(n)}, sizes=(100,))


@WORKLOAD.reference
def _(x):
    return x / 2


@WORKLOAD.kernel("numpy", description="x * 0.5", notes={"layout": "one multiply"})
def _(x):
    return x * np.float32(0.5) if x.dtype == np.float32 else x * 0.5
