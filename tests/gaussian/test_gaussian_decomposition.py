"""Closed-form invariant / specific / complementary decomposition against independent formulas."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from miestim.gaussian import GaussianDecomposition, decomposition, mutual_information


def scalar_mi(r: np.ndarray, i: int, j: int) -> float:
    """I(V_i; V_j) for scalars from the correlation matrix: -1/2 log(1 - r^2)."""
    return -0.5 * math.log(1 - r[i, j] ** 2)


def scalar_cmi(r: np.ndarray, i: int, j: int, k: int) -> float:
    """I(V_i; V_j | V_k) for scalars: -1/2 log(1 - partial_corr^2)."""
    partial = (r[i, j] - r[i, k] * r[j, k]) / math.sqrt((1 - r[i, k] ** 2) * (1 - r[j, k] ** 2))
    return -0.5 * math.log(1 - partial**2)


def random_cov(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.5 * np.eye(d)


# Scalar modalities t, a, v (indices 0, 1, 2), target C (3), fused F (4); non-unit variances on purpose.
SCALAR_COV = random_cov(5, 2024)


def test_scalar_example_matches_partial_correlation_formulas():
    sd = np.sqrt(np.diag(SCALAR_COV))
    r = SCALAR_COV / np.outer(sd, sd)
    t, a, v, c, f = range(5)
    result = decomposition(SCALAR_COV, {"t": [t], "a": [a], "v": [v]}, [c], fused=[f])

    expected_components = {
        "I(t;a)": scalar_mi(r, t, a),
        "I(t;v)": scalar_mi(r, t, v),
        "I(t;a|C)": scalar_cmi(r, t, a, c),
        "I(t;v|C)": scalar_cmi(r, t, v, c),
        "I(a;C|t)": scalar_cmi(r, a, c, t),
        "I(v;C|t)": scalar_cmi(r, v, c, t),
        "I(t;C|a)": scalar_cmi(r, t, c, a),
        "I(t;C|v)": scalar_cmi(r, t, c, v),
        "I(F;t)": scalar_mi(r, f, t),
        "I(F;a)": scalar_mi(r, f, a),
        "I(F;v)": scalar_mi(r, f, v),
    }
    assert set(result.components) == set(expected_components)
    for key, value in expected_components.items():
        assert result.components[key] == pytest.approx(value, rel=1e-10), key

    e = expected_components
    assert result.invariant == pytest.approx(e["I(t;a)"] + e["I(t;v)"], rel=1e-10)
    assert result.complementary == pytest.approx(e["I(t;a|C)"] + e["I(t;v|C)"], rel=1e-10)
    assert result.specific["a"] == pytest.approx(e["I(a;C|t)"] - e["I(t;a|C)"], rel=1e-10)
    assert result.specific["v"] == pytest.approx(e["I(v;C|t)"] - e["I(t;v|C)"], rel=1e-10)
    spec_t = e["I(t;C|a)"] - e["I(t;a|C)"] + e["I(t;C|v)"] - e["I(t;v|C)"]
    assert result.specific["t"] == pytest.approx(spec_t, rel=1e-10)
    assert result.fusion == pytest.approx({"t": e["I(F;t)"], "a": e["I(F;a)"], "v": e["I(F;v)"]}, rel=1e-10)
    assert list(result.specific) == ["t", "a", "v"]
    assert result.anchor == "t" and result.units == "nats"


@pytest.mark.parametrize("seed", range(4))
def test_specific_terms_satisfy_the_chain_rule_identity(seed):
    # I(m;C|a) - I(a;m|C) = I(m;C) - I(a;m), with multi-dimensional blocks.
    cov = random_cov(9, seed)
    modalities = {"text": [0, 1], "audio": [2], "video": [3, 4, 5]}
    target = [6, 7]
    result = decomposition(cov, modalities, target, anchor="audio")
    a = modalities["audio"]
    anchor_total = 0.0
    for m in ("text", "video"):
        idx = modalities[m]
        expected = mutual_information(cov, idx, target) - mutual_information(cov, a, idx)
        assert result.specific[m] == pytest.approx(expected, abs=1e-10)
        anchor_total += mutual_information(cov, a, target) - mutual_information(cov, a, idx)
    assert result.specific["audio"] == pytest.approx(anchor_total, abs=1e-10)
    expected_inv = sum(mutual_information(cov, a, modalities[m]) for m in ("text", "video"))
    assert result.invariant == pytest.approx(expected_inv, rel=1e-10)
    assert "I(audio;text|C)" in result.components and "I(text;C|audio)" in result.components


def test_specific_term_can_be_negative():
    # a is nearly a copy of t (large shared information) and only weakly related to C,
    # so Spec_a = I(a;C) - I(t;a) < 0.
    cov = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.4], [0.5, 0.4, 1.0]])
    result = decomposition(cov, {"t": [0], "a": [1]}, [2])
    assert result.specific["a"] < 0
    assert result.specific["a"] == pytest.approx(-0.5 * math.log(1 - 0.4**2) + 0.5 * math.log(1 - 0.9**2), rel=1e-10)


def test_without_fused_block_fusion_is_empty():
    result = decomposition(SCALAR_COV, {"t": 0, "a": 1, "v": 2}, 3)
    assert result.fusion == {}
    assert not any(key.startswith("I(F;") for key in result.components)
    assert len(result.components) == 8


def test_default_anchor_is_first_and_anchor_changes_the_terms():
    default = decomposition(SCALAR_COV, {"a": [1], "t": [0]}, [3])
    assert default.anchor == "a"
    other = decomposition(SCALAR_COV, {"a": [1], "t": [0]}, [3], anchor="t")
    assert other.anchor == "t"
    # With two modalities invariant and complementary are symmetric, the specific terms swap roles.
    assert other.invariant == pytest.approx(default.invariant)
    assert other.complementary == pytest.approx(default.complementary)
    assert other.specific["t"] == pytest.approx(default.specific["t"])
    assert set(other.components) == {"I(t;a)", "I(t;a|C)", "I(a;C|t)", "I(t;C|a)"}


def test_result_is_frozen():
    result = decomposition(SCALAR_COV, {"t": [0], "a": [1]}, [3])
    assert isinstance(result, GaussianDecomposition)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.invariant = 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"modalities": [[0], [1]]}, TypeError, "modalities must be a dict mapping names to index sets"),
        ({"modalities": {"t": [0]}}, ValueError, r"modalities must name at least 2 modalities; got 1: \['t'\]"),
        ({"modalities": {"t": [0], 1: [1]}}, TypeError, "modalities keys must be non-empty strings; got 1"),
        ({"modalities": {"t": [0], "": [1]}}, TypeError, "modalities keys must be non-empty strings"),
        ({"modalities": {"t": [0], "C": [1]}}, ValueError, r"modalities must not use the names \['C', 'F'\]"),
        ({"modalities": {"t": [0], "a": []}}, ValueError, r"modalities\['a'\] must contain at least one index"),
        ({"modalities": {"t": [0], "a": [9]}}, ValueError, r"modalities\['a'\] entries must lie in \[0, 5\)"),
        (
            {"modalities": {"t": [0, 1], "a": [1]}},
            ValueError,
            r"modalities\['t'\] and modalities\['a'\] must not overlap; both contain indices \[1\]",
        ),
        ({"target": [1]}, ValueError, r"modalities\['a'\] and target must not overlap"),
        ({"target": []}, ValueError, "target must contain at least one index"),
        ({"fused": [3]}, ValueError, r"target and fused must not overlap; both contain indices \[3\]"),
        ({"fused": [0]}, ValueError, r"modalities\['t'\] and fused must not overlap"),
        ({"fused": [0.5]}, TypeError, "fused must contain integers only"),
        ({"anchor": "x"}, ValueError, r"anchor must be one of the modalities \['t', 'a'\]; got 'x'"),
        ({"anchor": 0}, TypeError, "anchor must be a modality name"),
        ({"cov": np.ones((5, 5))}, ValueError, "cov must be positive definite"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    arguments = {"cov": SCALAR_COV, "modalities": {"t": [0], "a": [1]}, "target": [3], **kwargs}
    with pytest.raises(error, match=match):
        decomposition(**arguments)
