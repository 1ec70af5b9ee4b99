from __future__ import annotations

import pytest

from jitscope.core.errors import UserError
from jitscope.core.parsing import (
    parse_backend_specs,
    parse_params,
    parse_size,
    parse_size_requests,
    parse_sizes,
)


@pytest.mark.parametrize("text,value", [("100", 100), ("1_000", 1000), ("10k", 10_000), ("2M", 2_000_000), ("1e6", 10**6), ("2.5e3", 2500)])
def test_sizes_accepted(text: str, value: int) -> None:
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["abc", "-5", "0", "", "1.5", "1e-3", "10x", "2.5e0"])
def test_sizes_refused_with_message(text: str) -> None:
    with pytest.raises(UserError) as info:
        parse_size(text)
    assert repr(text) in str(info.value) or text == ""


def test_size_lists() -> None:
    assert parse_sizes(["2,10", "100", "10"]) == [2, 10, 100]
    for bad in (["2,,3"], [""], ["2,"]):
        with pytest.raises(UserError, match="empty"):
            parse_sizes(bad)


def test_size_requests_name_presets_and_sizes_meant_for_one_workload() -> None:
    """``-s S,M -s crc16=1e6,10k``: words are presets, ``NAME=`` takes its whole comma list."""
    assert parse_size_requests(["S,M", "crc16=1e6,10k", "2"]) == {"": ["S", "M", 2], "crc16": [10**6, 10**4]}
    for bad, needle in ((["crc16="], "empty"), (["c r=3"], "not a workload name"), (["crc16=1e6,"], "empty"),
                        (["crc16=-5"], "size '-5'")):
        with pytest.raises(UserError, match=needle):
            parse_size_requests(bad)


def test_params() -> None:
    assert parse_params(["epochs=100", "p = 0.3"]) == {"epochs": "100", "p": "0.3"}
    for bad in ("epochs", "=3", "epochs="):
        with pytest.raises(UserError, match="key=value"):
            parse_params([bad])


def test_backend_specs() -> None:
    assert parse_backend_specs(["numpy,numba:parallel", "jax", "numpy"]) == [
        ("numpy", None), ("numba", "parallel"), ("jax", None)]
    assert parse_backend_specs(["numba:*"]) == [("numba", "*")]
    with pytest.raises(UserError):
        parse_backend_specs(["numpy,"])
    with pytest.raises(UserError):
        parse_backend_specs(["numba:"])
