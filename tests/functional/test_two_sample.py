"""Two-sample classifier readouts (CMINE) against float64 formulas; clipping and stability."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from miestim.functional import clip_logits, two_sample_dv_bound, two_sample_mean_log_ratio, two_sample_nwj_bound
from miestim.functional.two_sample import logit_bound

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@pytest.mark.parametrize("seed", range(5))
def test_readouts_match_reference(seed):
    rng = np.random.default_rng(seed)
    joint, product = rng.normal(1, 2, size=7), rng.normal(-1, 2, size=(7, 3))
    j, p = torch.from_numpy(joint), torch.from_numpy(product)
    assert float(two_sample_dv_bound(j, p)) == pytest.approx(joint.mean() - math.log(np.exp(product).mean()), rel=1e-12)
    assert float(two_sample_nwj_bound(j, p)) == pytest.approx(1 + joint.mean() - np.exp(product).mean(), rel=1e-12)
    assert float(two_sample_mean_log_ratio(j)) == pytest.approx(joint.mean(), rel=1e-12)
    assert float(two_sample_nwj_bound(j, p)) <= float(two_sample_dv_bound(j, p))


@settings(max_examples=60, deadline=None)
@given(joint=arrays(np.float32, st.integers(1, 20), elements=finite), product=arrays(np.float32, st.integers(1, 20), elements=finite))
def test_readouts_are_finite_for_finite_logits(joint, product):
    j, p = torch.from_numpy(joint), torch.from_numpy(product)
    for value in (two_sample_dv_bound(j, p), two_sample_nwj_bound(j, p), two_sample_mean_log_ratio(j)):
        assert torch.isfinite(value)
    c = logit_bound(1e-4)
    clipped = two_sample_dv_bound(clip_logits(j), clip_logits(p))
    assert -2 * c - 1e-3 <= float(clipped) <= 2 * c + 1e-3


def test_clip_bound_and_gradient():
    assert logit_bound(0.1) == pytest.approx(math.log(9))
    logits = torch.tensor([-50.0, 0.3, 50.0], requires_grad=True)
    clip_logits(logits, 0.1).sum().backward()
    assert logits.grad.tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: logit_bound(0.5), ValueError, r"tau must lie in \(0, 0.5\)"),
        (lambda: logit_bound(0.0), ValueError, "tau"),
        (lambda: two_sample_dv_bound(torch.tensor([1, 2]), torch.zeros(2)), TypeError, "joint must be a floating-point"),
        (lambda: two_sample_nwj_bound(torch.zeros(2), torch.zeros(0)), ValueError, "product must hold at least one logit"),
    ],
)
def test_bad_arguments_are_refused(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
