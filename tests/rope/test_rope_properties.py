"""Properties of the rope math (hypothesis), and the per-dimension table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropeguard.errors import UnsupportedLayoutError
from ropeguard.rope import (
    attention_factor,
    base_inv_freq,
    dimension_table,
    inv_freq,
    wavelengths,
    yarn_correction_range,
)

thetas = st.sampled_from([1e4, 5e4, 1.5e5, 5e5, 1e6, 5e6, 1e7])
dims = st.sampled_from([32, 64, 96, 128, 256])
originals = st.sampled_from([2048, 4096, 8192, 32768, 131072])
factors = st.floats(min_value=1.01, max_value=64.0, allow_nan=False)
truncates = st.booleans()


def yarn(factor: float, original: int, truncate: bool = True) -> dict[str, object]:
    return {
        "rope_type": "yarn",
        "factor": factor,
        "original_max_position_embeddings": original,
        "truncate": truncate,
    }


@given(theta=thetas, dim=dims, original=originals, truncate=truncates)
def test_yarn_with_factor_one_is_default(theta: float, dim: int, original: int, truncate: bool) -> None:
    np.testing.assert_allclose(
        inv_freq(yarn(1.0, original, truncate), theta, dim), base_inv_freq(theta, dim), rtol=1e-15
    )
    assert attention_factor(yarn(1.0, original)) == 1.0


@given(theta=thetas, dim=dims, original=originals, factor=factors, truncate=truncates)
def test_yarn_keeps_fast_pairs_and_divides_slow_pairs_exactly(
    theta: float, dim: int, original: int, factor: float, truncate: bool
) -> None:
    base = base_inv_freq(theta, dim)
    scaled = inv_freq(yarn(factor, original, truncate), theta, dim)
    low, high = yarn_correction_range(dim, theta, original, truncate=truncate)
    for i in range(dim // 2):
        if i <= low:
            assert scaled[i] == base[i]
        elif i >= high:
            assert scaled[i] == pytest.approx(base[i] / factor, rel=1e-15)
        else:
            assert base[i] / factor < scaled[i] < base[i]


@given(theta=thetas, dim=dims, original=originals, factor=factors, truncate=truncates)
def test_yarn_regimes_follow_rotations_in_the_original_window(
    theta: float, dim: int, original: int, factor: float, truncate: bool
) -> None:
    table = dimension_table(yarn(factor, original, truncate), theta, dim)
    for row in table.rows:
        if row.regime == "extrapolate" and row.pair > 0:
            assert row.rotations_in_native >= 32 * (1 - 1e-9)
        if row.regime == "interpolate" and row.pair < dim // 2 - 1:
            assert row.rotations_in_native <= 1 * (1 + 1e-9)
        # inv_freq = base * (1 - ramp) + base / factor * ramp, so the wavelength grows by:
        assert row.scale == pytest.approx(1 / (1 - row.ramp + row.ramp / factor), rel=1e-9)
    assert table.count("extrapolate") + table.count("ramp") + table.count("interpolate") == dim // 2


@settings(max_examples=50)
@given(
    theta=thetas,
    dim=dims,
    original=originals,
    factor=factors,
    kind=st.sampled_from(["yarn", "linear", "llama3"]),
)
def test_wavelengths_grow_with_the_pair_index(
    theta: float, dim: int, original: int, factor: float, kind: str
) -> None:
    params: dict[str, object] = {
        "rope_type": kind,
        "factor": factor,
        "original_max_position_embeddings": original,
    }
    if kind == "llama3":
        params |= {"low_freq_factor": 1.0, "high_freq_factor": 4.0}
    lengths = wavelengths(inv_freq(params, theta, dim))
    assert np.all(np.diff(lengths) > 0)


@given(theta=thetas, dim=dims, factor=factors)
def test_linear_divides_every_frequency(theta: float, dim: int, factor: float) -> None:
    scaled = inv_freq({"rope_type": "linear", "factor": factor}, theta, dim)
    np.testing.assert_allclose(scaled * factor, base_inv_freq(theta, dim), rtol=1e-14)
    table = dimension_table({"rope_type": "linear", "factor": factor}, theta, dim, native_context=4096)
    assert table.count("interpolate") == dim // 2


@given(theta=thetas, dim=dims, original=originals)
def test_llama3_with_factor_one_is_default(theta: float, dim: int, original: int) -> None:
    params = {
        "rope_type": "llama3",
        "factor": 1.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": original,
    }
    np.testing.assert_allclose(inv_freq(params, theta, dim), base_inv_freq(theta, dim), rtol=1e-14)


@given(factor=factors)
def test_yarn_attention_factor_is_01_ln_f_plus_1(factor: float) -> None:
    assert attention_factor(yarn(factor, 4096)) == pytest.approx(0.1 * math.log(factor) + 1)


def test_dynamic_below_max_position_is_default_and_grows_base_beyond() -> None:
    params = {"rope_type": "dynamic", "factor": 4.0}
    base = base_inv_freq(1e4, 64)
    np.testing.assert_allclose(inv_freq(params, 1e4, 64, max_position_embeddings=2048, seq_len=1000), base)
    longer = inv_freq(params, 1e4, 64, max_position_embeddings=2048, seq_len=8192)
    assert longer[0] == base[0] and np.all(longer[1:] < base[1:])


def test_longrope_picks_factors_by_sequence_length() -> None:
    params = {
        "rope_type": "longrope",
        "short_factor": [1.0, 2.0],
        "long_factor": [3.0, 4.0],
        "original_max_position_embeddings": 4096,
    }
    base = base_inv_freq(1e4, 4)
    np.testing.assert_allclose(inv_freq(params, 1e4, 4, seq_len=4096), base / [1.0, 2.0])
    np.testing.assert_allclose(inv_freq(params, 1e4, 4, seq_len=4097), base / [3.0, 4.0])
    assert attention_factor(params, max_position_embeddings=131072) == pytest.approx(
        math.sqrt(1 + math.log(32) / math.log(4096))
    )


def test_qwen3_yarn_x4_table() -> None:
    table = dimension_table(yarn(4.0, 32768), 1e6, 128)
    assert (table.low, table.high) == (23, 40)
    assert (table.count("extrapolate"), table.count("ramp"), table.count("interpolate")) == (24, 16, 24)
    assert table.attention_factor == pytest.approx(0.1 * math.log(4) + 1)
    assert table.rows[0].wavelength == pytest.approx(2 * math.pi)
    assert table.rows[-1].scale == pytest.approx(4.0)


def test_llama3_table_has_all_three_regimes() -> None:
    params = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    table = dimension_table(params, 5e5, 128)
    assert table.native_context == 8192
    assert min(table.count("extrapolate"), table.count("ramp"), table.count("interpolate")) > 0
    assert table.attention_factor == 1.0


def test_unknown_rope_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedLayoutError):
        inv_freq({"rope_type": "mystery"}, 1e4, 64)


def test_rope_dict_is_the_transformers5_form() -> None:
    from ropeguard.models import load_model_spec
    from ropeguard.rope import rope_dict

    spec = load_model_spec("Qwen/Qwen3-Next-80B-A3B-Instruct", offline=True)
    assert rope_dict(spec.rope) == {"rope_type": "default", "rope_theta": 1e7, "partial_rotary_factor": 0.25}
    llama = load_model_spec("meta-llama/Llama-3.1-8B-Instruct", offline=True)
    params = rope_dict(llama.rope)
    assert params["rope_type"] == "llama3" and params["factor"] == 8.0 and params["rope_theta"] == 5e5
    np.testing.assert_allclose(
        inv_freq(params, None, llama.rope.rotary_dim), inv_freq(params, 5e5, llama.rope.rotary_dim)
    )
