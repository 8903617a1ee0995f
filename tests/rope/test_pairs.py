"""The per-dimension table built on the plain-Python frequencies (rope/pairs.py) equals the numpy one.

The frequencies themselves are written once (rope/pairs.py; rope/frequencies.py gives them as arrays)
and checked against transformers and vLLM in test_*_parity.py. Here bad rope dicts fail the same way
through both entry points, the table equals the one the numpy implementation of the table gave before
it dropped numpy (kept below as the reference), and the plan's text table of every registry model is
the same, character for character.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropeguard.errors import UnsupportedLayoutError
from ropeguard.models.registry import known_models
from ropeguard.plan import make_plan
from ropeguard.plan.summary import dimension_table_for, dimension_table_lines
from ropeguard.rope import DimensionRow, DimensionTable, base_inv_freq, dimension_table, inv_freq, yarn_ramp
from ropeguard.rope.pairs import (
    pair_freqs,
    yarn_correction_range,
    yarn_options,
)
from ropeguard.rope.scaling import rope_type_of, scaling_factor

RTOL = 1e-12

thetas = st.one_of(
    st.sampled_from([1e4, 5e4, 1.5e5, 5e5, 1e6, 5e6, 1e7]),
    st.floats(min_value=1.5, max_value=1e8, allow_nan=False),
)
dims = st.sampled_from([4, 32, 64, 80, 96, 128, 256])  # 2 would divide by 0 in dynamic (as transformers)
originals = st.sampled_from([2048, 4096, 8192, 32768, 131072])
factors = st.floats(min_value=1.0, max_value=64.0, allow_nan=False)


@st.composite
def rope_dicts(draw: st.DrawFn) -> tuple[dict[str, Any], int, int | None, int | None]:
    """(rope dict, rotary dim, max_position_embeddings, seq_len) of any type ropeguard covers."""
    kind = draw(
        st.sampled_from(["default", "linear", "dynamic", "yarn", "deepseek_yarn", "llama3", "longrope"])
    )
    dim = draw(dims)
    original = draw(originals)
    factor = draw(factors)
    params: dict[str, Any] = {"rope_type": kind, "factor": factor}
    max_position: int | None = draw(st.sampled_from([None, original, original * 4]))
    seq_len: int | None = draw(st.sampled_from([None, original // 2, original, original * 8]))
    if kind in ("yarn", "deepseek_yarn", "llama3", "longrope"):
        params["original_max_position_embeddings"] = original
    if kind == "dynamic":
        max_position = original
    if kind in ("yarn", "deepseek_yarn"):
        params["truncate"] = draw(st.booleans())
        params["beta_fast"] = draw(st.sampled_from([None, 0, 32, 16.5]))
        params["beta_slow"] = draw(st.sampled_from([None, 0, 1, 2.0]))
        if draw(st.booleans()):  # a missing factor: max_position / original, as transformers
            del params["factor"]
            max_position = original * draw(st.sampled_from([1, 2, 4]))
    if kind == "llama3":
        low = draw(st.sampled_from([1.0, 2.0]))
        params |= {"low_freq_factor": low, "high_freq_factor": draw(st.sampled_from([low, 4.0, 8.0]))}
    if kind == "longrope":
        count = dim // 2
        params["short_factor"] = draw(st.lists(st.floats(0.5, 8.0), min_size=count, max_size=count))
        params["long_factor"] = draw(st.lists(st.floats(0.5, 64.0), min_size=count, max_size=count))
    return params, dim, max_position, seq_len


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (({"rope_type": "mystery"}, 1e4, 64), UnsupportedLayoutError),
        (({"rope_type": "default"}, 1e4, 63), ValueError),
        (({"rope_type": "default"}, 1.0, 64), ValueError),
        (({"rope_type": "default"}, None, 64), ValueError),
        (({"rope_type": "dynamic", "factor": 2.0}, 1e4, 64), ValueError),
        (
            (
                {"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0], "factor": 2.0},
                1e4,
                64,
            ),
            ValueError,
        ),
    ],
)
def test_bad_rope_dicts_fail_as_in_numpy(args: tuple[Any, ...], error: type[Exception]) -> None:
    kwargs = {"max_position_embeddings": 4096} if args[0].get("rope_type") == "longrope" else {}
    with pytest.raises(error) as numpy_error:
        inv_freq(*args, **kwargs)
    with pytest.raises(error) as plain_error:
        pair_freqs(*args, **kwargs)
    assert str(plain_error.value) == str(numpy_error.value)


def numpy_rows(
    rope_params: dict[str, Any], theta: float, dim: int, native: int, max_position: int | None
) -> list[DimensionRow]:
    """The rows as rope/table.py computed them with numpy (its implementation before this change)."""
    base = base_inv_freq(theta, dim)
    scaled = inv_freq(rope_params, theta, dim, max_position_embeddings=max_position)
    factor = scaling_factor(rope_params, max_position)
    pairs = dim // 2
    if rope_type_of(rope_params) in ("yarn", "deepseek_yarn"):
        beta_fast, beta_slow, truncate = yarn_options(rope_params)
        original = rope_params.get("original_max_position_embeddings") or max_position
        assert original is not None
        low, high = yarn_correction_range(
            dim, theta, int(original), beta_fast=beta_fast, beta_slow=beta_slow, truncate=truncate
        )
        ramps = yarn_ramp(low, high, pairs)
    else:
        ramps = (
            np.clip(np.log(base / scaled) / math.log(factor), 0.0, 1.0) if factor > 1.0 else np.zeros(pairs)
        )
    rows = []
    for i in range(pairs):
        ramp = float(ramps[i])
        regime = "extrapolate" if ramp <= 1e-9 else "interpolate" if ramp >= 1.0 - 1e-9 else "ramp"
        wavelength = 2 * math.pi / float(base[i])
        scaled_wavelength = 2 * math.pi / float(scaled[i])
        rows.append(
            DimensionRow(
                pair=i,
                inv_freq=float(base[i]),
                wavelength=wavelength,
                rotations_in_native=native / wavelength,
                regime=regime,  # type: ignore[arg-type]
                ramp=ramp,
                scale=scaled_wavelength / wavelength,
                scaled_inv_freq=float(scaled[i]),
                scaled_wavelength=scaled_wavelength,
            )
        )
    return rows


def assert_rows_close(got: list[DimensionRow], expected: list[DimensionRow]) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.pair == theirs.pair and mine.regime == theirs.regime
        for field in (
            "inv_freq",
            "wavelength",
            "rotations_in_native",
            "scale",
            "scaled_inv_freq",
            "scaled_wavelength",
        ):
            assert getattr(mine, field) == pytest.approx(getattr(theirs, field), rel=RTOL, abs=0), field
        assert mine.ramp == pytest.approx(theirs.ramp, rel=RTOL, abs=1e-15)


@settings(max_examples=300)
@given(case=rope_dicts(), theta=thetas)
def test_the_table_equals_the_numpy_table(
    case: tuple[dict[str, Any], int, int | None, int | None], theta: float
) -> None:
    params, dim, max_position, _ = case
    max_position = max_position or 4096  # a dict without an original length needs the window it had
    table = dimension_table(params, theta, dim, max_position_embeddings=max_position)
    assert_rows_close(table.rows, numpy_rows(params, theta, dim, table.native_context, max_position))


def _registry_plans() -> list[tuple[str, int]]:
    return [(model, target) for model in known_models() for target in (65536, 131072, 262144, 1048576)]


def test_every_registry_model_prints_the_same_table_as_with_numpy() -> None:
    from ropeguard.errors import RopeguardError
    from ropeguard.models.reader import load_model_spec

    compared = 0
    for model, target in _registry_plans():
        try:
            plan = make_plan(load_model_spec(model, offline=True), target, installed={})
        except RopeguardError:  # refused (the model's own scaling) or unsupported: no table to print
            continue
        table = dimension_table_for(plan)
        if table is None:
            continue
        assert plan.applied_rope is not None
        reference = DimensionTable.model_validate(
            table.model_dump()
            | {
                "rows": numpy_rows(
                    plan.applied_rope,
                    plan.rope_theta,
                    plan.rotary_dim,
                    plan.native_context,
                    plan.target_context,
                )
            }
        )
        assert_rows_close(table.rows, reference.rows)
        assert dimension_table_lines(table) == dimension_table_lines(reference), (model, target)
        compared += 1
    assert compared >= 20  # the registry holds dozens of models; a loop that compared none would pass
