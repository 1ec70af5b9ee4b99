"""Running a user's kernel the way its workload asks: resident or fresh inputs, the
in-place check, a clear reason for ``None``, the library options on record.

Every backend's adapter builds the library side of a user's kernel (move, cast, jit, sync,
fetch). What is the same for all of them wraps that kernel here, so the promise "the
kernel's answer is checked against the reference computed from the same inputs" holds on
every backend alike (docs/design.md §10):

* ``resident`` inputs are moved in once and every call reuses them. A kernel that changes
  them makes each call start from the last one's output, so after the samples they are
  compared, untimed, with the inputs they were made from: a change is a failed cell that says so.
* ``fresh`` inputs are made again (the adapter's own transfer) before every timed call,
  outside the clock, for kernels that work in place.
* ``probe=True``: the function returns ``(result, probe)``. The result is what is checked
  and fetched; the probe (data the kernel computed, in the precision it ran in) stands in
  for the result where the adapter reads ``dtype_used``, with the inputs as always. A
  float64 accumulator or a count says nothing of what ran; a slice of the points it drew
  does. Here rather than in each adapter: every backend's kernel is split the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jitscope.core.backend import CellContext, CompileWatch, Kernel
from jitscope.core.lazy import loaded_numpy

if TYPE_CHECKING:
    import numpy as np


class UserKernelError(Exception):
    """A user kernel broke the contract (returned None, changed its resident inputs): the
    message is the cell's whole reason."""


def _host(value: Any) -> np.ndarray | None:
    """A kernel argument as a NumPy array, if it lives in host memory; None otherwise (a
    GPU array, which the check then leaves alone rather than copying it back)."""
    import numpy as np  # here, not at the top: the parent plans user kernels without NumPy

    try:
        return np.asarray(value)
    except Exception:  # a device tensor refuses; that is "unknown", not a failure
        return None


class UserKernelRun(Kernel):
    """An adapter's :class:`Kernel` under the user-kernel contract (see the module doc)."""

    def __init__(self, inner: Kernel, ctx: CellContext, *, fresh: bool, name: str, options: str,  # noqa: PLR0913
                 modes: bool = True, probe: bool = False) -> None:
        """``modes``: the workload has the ``inputs`` parameter (a user's always; a built-in
        whose inputs are always resident has none, and no note of it). ``probe``: the
        kernel returns ``(result, probe)`` (see the module doc)."""
        super().__init__()
        self.inner = inner
        self.notes = inner.notes
        if modes:
            self.notes["inputs"] = ("fresh: a new copy before every timed call (untimed)" if fresh
                                    else "resident: moved in once, reused by every call")
        if options:
            self.notes["kernel_options"] = options
        self._ctx = ctx
        self._fresh = fresh
        self._name = name
        self._probe = probe

    def transfer(self) -> None:
        self.inner.transfer()

    def before_each_call(self) -> Callable[[], None] | None:
        return self.inner.transfer if self._fresh else None

    def run(self) -> Any:
        return self.inner.run()

    def _check_unchanged(self) -> None:
        given = self.inner.arguments
        np = loaded_numpy()
        if given is None or np is None:
            return
        for name, original in self._ctx.inputs.items():
            if not isinstance(original, np.ndarray) or name not in given:
                continue
            now = _host(given[name])
            if now is None or now.shape != original.shape:
                continue
            expected = original.astype(self._ctx.dtype) if original.dtype.kind == "f" else original
            if not np.array_equal(now, expected, equal_nan=expected.dtype.kind in "fc"):
                raise UserKernelError(
                    f"the {self._name} kernel changed its input {name!r} in place: its inputs are resident (every "
                    "call would start from the last one's output); declare fresh_inputs=True in jitscope.workload(...) "
                    "or run with -p inputs=fresh, or make the kernel work on a copy")

    def sync(self, out: Any) -> None:
        self.inner.sync(out)

    def fetch(self, out: Any) -> Any:
        # Untimed, after the samples: a resident input a call changed is still changed here,
        # and no timed call pays for the comparison.
        if not self._fresh:
            self._check_unchanged()
        out = self._split(out)[0]
        if out is None:
            raise UserKernelError(
                f"the {self._name} kernel returned None: return the result (a kernel that updates an array in "
                "place returns that array, and its workload declares fresh_inputs=True)")
        return self.inner.fetch(out)

    def close(self) -> None:
        self.inner.close()

    def compile_watch(self) -> CompileWatch:
        return self.inner.compile_watch()

    def reset_device_peak(self) -> None:
        self.inner.reset_device_peak()

    def device_peak_bytes(self) -> int | None:
        return self.inner.device_peak_bytes()

    def explain(self, exc: BaseException) -> str | None:
        return str(exc) if isinstance(exc, UserKernelError) else self.inner.explain(exc)

    def ran_with(self, out: Any) -> Any:
        """What ran: the probe in place of the result, where the kernel returns one."""
        return self.inner.ran_with(self._split(out)[1])

    def _split(self, out: Any) -> tuple[Any, Any]:
        """``(result, what dtype_used is read from)``: the pair a probed kernel returned, or
        the output twice. A probed kernel that returned no pair fails its cell, saying so
        (read before the fetch: the first place that meets it)."""
        if not self._probe:
            return out, out
        if isinstance(out, tuple) and len(out) == 2:
            return out[0], out[1]
        what = f"a {len(out)}-tuple" if isinstance(out, tuple) else ("None" if out is None else
                                                                     f"a {type(out).__name__}")
        raise UserKernelError(f"the {self._name} kernel is declared probe=True but returned {what}: return "
                              "(result, probe), the probe being an array or scalar it computed in the "
                              "precision it ran in")
