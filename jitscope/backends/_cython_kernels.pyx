# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels for jitscope's ``cython`` backend.

Compiled at first use by ``cython_backend`` with the system C compiler into a per-user
cache keyed by the hash of this file, the Cython/Python versions and the compiler flags.
Typed memoryviews over NumPy arrays; ``real`` is a fused type, so float32 and float64 cells
each get their own specialisation. The RNG is the same counter-based splitmix64 as Numba's
parallel kernels.
"""

from libc.math cimport log, fabs
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport malloc, free

cdef extern from *:
    """
    #include <stdint.h>
    static inline uint64_t jitscope_splitmix64(uint64_t z) {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    static const uint64_t JITSCOPE_GOLDEN = 0x9E3779B97F4A7C15ULL;
    static const uint64_t JITSCOPE_MASK32 = 0xFFFFFFFFULL;
    static const uint64_t JITSCOPE_MASK24 = 0xFFFFFFULL;
    static const uint64_t JITSCOPE_MASK31 = 0x7FFFFFFFULL;
    """
    uint64_t splitmix64 "jitscope_splitmix64" (uint64_t z) nogil
    const uint64_t GOLDEN "JITSCOPE_GOLDEN"
    const uint64_t MASK32 "JITSCOPE_MASK32"
    const uint64_t MASK24 "JITSCOPE_MASK24"
    const uint64_t MASK31 "JITSCOPE_MASK31"

ctypedef fused real:
    float
    double


cdef inline uint64_t stream_key(uint64_t seed) noexcept nogil:
    return splitmix64(seed * GOLDEN + 1)


def linreg(const real[:, ::1] X, const real[::1] y, real coef, int epochs, real[::1] w, real[::1] g):
    """One fused pass over row-major X per epoch; w must come in zeroed, g is scratch."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef int e
    cdef real r
    with nogil:
        for e in range(epochs):
            for j in range(d):
                g[j] = 0
            for i in range(n):
                r = -y[i]
                for j in range(d):
                    r = r + X[i, j] * w[j]
                for j in range(d):
                    g[j] = g[j] + X[i, j] * r
            for j in range(d):
                w[j] = w[j] - coef * g[j]


def mcpi(int64_t n, uint64_t seed, real[::1] probe):
    """Fused generate-test-count; sample i = splitmix64(key + i*phi), int64 counter. The
    probe's dtype picks the specialisation (float: 24-bit uniforms, double: 31-bit, as in
    Numba); the last sample's x is written into it, so it holds data the loop computed."""
    cdef uint64_t key = stream_key(seed), z
    cdef int64_t i, count = 0
    cdef real x = 0, y
    with nogil:
        # Through int32: AVX2 converts int32 (not 64-bit) integers to floating point in
        # vector registers.
        if real is float:
            for i in range(n):
                z = splitmix64(key + <uint64_t>i * GOLDEN)
                x = <float><int32_t>(z >> 40) * <float>5.9604644775390625e-08
                y = <float><int32_t>((z >> 8) & MASK24) * <float>5.9604644775390625e-08
                count += <int32_t>(x * x + y * y <= <float>1.0)
        else:
            for i in range(n):
                z = splitmix64(key + <uint64_t>i * GOLDEN)
                x = <double><int32_t>(z >> 33) * 4.656612873077393e-10
                y = <double><int32_t>((z >> 1) & MASK31) * 4.656612873077393e-10
                count += <int32_t>(x * x + y * y <= 1.0)
    probe[0] = x
    return 4.0 * count / n


def lu_inplace(real[:, ::1] a):
    """Naive right-looking Doolittle, in place on the caller's fresh copy; (sign, logdet)."""
    cdef Py_ssize_t n = a.shape[0], i, j, k
    cdef real pivot, f
    cdef double sign = 1.0, logdet = 0.0
    with nogil:
        for k in range(n - 1):
            pivot = a[k, k]
            for i in range(k + 1, n):
                f = a[i, k] / pivot
                a[i, k] = f
                for j in range(k + 1, n):
                    a[i, j] = a[i, j] - f * a[k, j]
        for k in range(n):
            if a[k, k] < 0:
                sign = -sign
            logdet += log(fabs(<double>a[k, k]))
    return sign, logdet


def nodes(int64_t n, double p, uint64_t seed, real[::1] probe):
    """Structure of arrays in C memory (keys int64, bias ``real``), checksum in double. The
    probe's dtype picks ``real``; the last node's bias is written into it."""
    cdef uint64_t key = stream_key(seed), z
    cdef int64_t i
    cdef double total = 0.0
    cdef int64_t* keys = <int64_t*>malloc(n * sizeof(int64_t))
    cdef real* bias = <real*>malloc(n * sizeof(real))
    if keys == NULL or bias == NULL:
        free(keys)
        free(bias)
        raise MemoryError()
    with nogil:
        for i in range(n):
            keys[i] = i
            bias[i] = 0.5
        for i in range(n):
            z = splitmix64(key + <uint64_t>keys[i] * GOLDEN)
            if <double>(z >> 32) * 2.3283064365386963e-10 < p:
                bias[i] = bias[i] + <real>(<double>(z & MASK32) * 2.3283064365386963e-10)
        for i in range(n):
            total += bias[i]
    if n > 0:
        probe[0] = bias[n - 1]
    free(keys)
    free(bias)
    return total
