"""Each bound against an independent float64 formula, stability, and argument checks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from miestim.functional import (
    clip_logits,
    dv_lower_bound,
    infonce_lower_bound,
    interpolated_lower_bound,
    js_lower_bound,
    js_objective,
    js_row_terms,
    mine_lower_bound,
    nwj_lower_bound,
    sampled_js_objective,
    smile_lower_bound,
    tuba_lower_bound,
    two_sample_dv_bound,
    two_sample_mean_log_ratio,
    two_sample_nwj_bound,
    update_log_ema,
)


def _offdiag(s):
    return s[~np.eye(len(s), dtype=bool)]


def ref_dv(s):
    return np.mean(np.diag(s)) - np.log(np.mean(np.exp(_offdiag(s))))


def ref_nwj(s):
    return np.mean(np.diag(s)) - np.mean(np.exp(_offdiag(s) - 1))


def ref_tuba(s, a):
    n = len(s)
    marg = np.mean([np.exp(s[i, j] - a[j]) for i in range(n) for j in range(n) if i != j])
    return 1 + np.mean(np.diag(s) - a) - marg


def ref_infonce(s):
    n = len(s)
    return np.log(n) + np.mean([s[i, i] - np.log(np.sum(np.exp(s[i]))) for i in range(n)])


def ref_smile(s, tau):
    return np.mean(np.diag(s)) - np.log(np.mean(np.exp(np.clip(_offdiag(s), -tau, tau))))


def ref_interpolated(s, a, alpha):
    n = len(s)

    def denom(i, j):  # leave x_i out of the column-j mean
        loo = np.mean([np.exp(s[k, j]) for k in range(n) if k != i])
        return np.log(alpha * loo + (1 - alpha) * np.exp(a[j]))

    joint = np.mean([s[j, j] - denom(i, j) for i in range(n) for j in range(n) if i != j])
    marg = np.mean([np.exp(s[i, j] - denom(j, j)) for i in range(n) for j in range(n) if i != j])
    return 1 + joint - marg


def ref_js_objective(s):
    def softplus(v):
        return np.log1p(np.exp(v))

    return -np.mean(softplus(-np.diag(s))) - np.mean(softplus(_offdiag(s)))


@pytest.fixture(params=[0, 1, 2])
def scores(request):
    rng = np.random.default_rng(request.param)
    n = [2, 5, 9][request.param]
    return rng.normal(scale=2.0, size=(n, n))


def t(a):
    return torch.tensor(a, dtype=torch.float64)


def test_dv_nwj_infonce_smile_match_reference(scores):
    assert float(dv_lower_bound(t(scores))) == pytest.approx(ref_dv(scores), rel=1e-10, abs=1e-10)
    assert float(nwj_lower_bound(t(scores))) == pytest.approx(ref_nwj(scores), rel=1e-10, abs=1e-10)
    assert float(infonce_lower_bound(t(scores))) == pytest.approx(ref_infonce(scores), rel=1e-10, abs=1e-10)
    assert float(smile_lower_bound(t(scores), clip=1.5)) == pytest.approx(ref_smile(scores, 1.5), rel=1e-10, abs=1e-10)
    assert float(js_objective(t(scores))) == pytest.approx(ref_js_objective(scores), rel=1e-10, abs=1e-10)


def test_baseline_bounds_match_reference(scores):
    a = np.linspace(-0.5, 0.7, len(scores))
    assert float(tuba_lower_bound(t(scores), t(a))) == pytest.approx(ref_tuba(scores, a), rel=1e-10, abs=1e-10)
    for alpha in (0.0, 0.3, 1.0):
        got = float(interpolated_lower_bound(t(scores), t(a), alpha=alpha))
        assert got == pytest.approx(ref_interpolated(scores, a, alpha), rel=1e-9, abs=1e-9)


def test_interpolated_at_alpha_zero_is_tuba(scores):
    a = t(np.full(len(scores), 0.4))
    assert float(interpolated_lower_bound(t(scores), a, alpha=0.0)) == pytest.approx(float(tuba_lower_bound(t(scores), a)))


def test_js_and_mine_readouts_are_dv_and_nwj(scores):
    s = t(scores)
    assert float(js_lower_bound(s)) == pytest.approx(ref_dv(scores))
    assert float(js_lower_bound(s, report="nwj")) == pytest.approx(ref_nwj(scores + 1))
    assert float(mine_lower_bound(s, 3.0)) == pytest.approx(ref_dv(scores))


def test_js_and_smile_gradients_are_the_js_objective_gradient(scores):
    for bound in (js_lower_bound, smile_lower_bound):
        s1, s2 = t(scores).requires_grad_(), t(scores).requires_grad_()
        bound(s1).backward()
        js_objective(s2).backward()
        torch.testing.assert_close(s1.grad, s2.grad)


def test_mine_gradient_is_dv_gradient_rescaled_by_moving_average(scores):
    s_dv, s_mine = t(scores).requires_grad_(), t(scores).requires_grad_()
    dv_lower_bound(s_dv).backward()
    log_partition = math.log(np.mean(np.exp(_offdiag(scores))))
    # With the moving average equal to the batch partition function, MINE's gradient is DV's.
    mine_lower_bound(s_mine, log_partition).backward()
    torch.testing.assert_close(s_mine.grad, s_dv.grad)
    # With a moving average twice as large, the partition-term gradient halves.
    s_half = t(scores).requires_grad_()
    mine_lower_bound(s_half, log_partition + math.log(2.0)).backward()
    eye = torch.eye(len(scores), dtype=torch.bool)
    torch.testing.assert_close(s_half.grad[~eye], s_dv.grad[~eye] / 2)


def test_update_log_ema_matches_linear_average():
    ema = update_log_ema(torch.tensor(float("nan")), torch.tensor(math.log(4.0)), momentum=0.1)
    assert float(ema) == pytest.approx(math.log(4.0))
    ema = update_log_ema(ema, torch.tensor(math.log(2.0)), momentum=0.25)
    assert float(ema) == pytest.approx(math.log(0.75 * 4.0 + 0.25 * 2.0))


ALL_BOUNDS = {
    "dv": dv_lower_bound,
    "nwj": nwj_lower_bound,
    "infonce": infonce_lower_bound,
    "js": js_lower_bound,
    "smile": smile_lower_bound,
    "tuba": lambda s: tuba_lower_bound(s, 0.5),
    "interpolated": lambda s: interpolated_lower_bound(s, 0.5, alpha=0.3),
    "mine": lambda s: mine_lower_bound(s, 0.0),
}


@settings(max_examples=40, deadline=None)
@given(
    data=st.integers(2, 7).flatmap(lambda n: arrays(np.float64, (n, n), elements=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False))),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_bounds_finite_with_finite_gradients_for_finite_scores(data, dtype):
    for name, bound in ALL_BOUNDS.items():
        s = torch.tensor(data, dtype=dtype, requires_grad=True)
        value = bound(s)
        value.backward()
        assert torch.isfinite(value), (name, data)
        assert torch.isfinite(s.grad).all(), (name, data)


@settings(max_examples=40, deadline=None)
@given(data=st.integers(2, 12).flatmap(lambda n: arrays(np.float32, (n, n), elements=st.floats(-1e4, 1e4, width=32))))
def test_infonce_never_exceeds_log_batch(data):
    n = data.shape[0]
    assert float(infonce_lower_bound(torch.from_numpy(data))) <= math.log(n) + 1e-4


def test_extreme_scores_give_expected_signs():
    eye = torch.eye(4)
    perfect = eye * 1e4 - (1 - eye) * 1e4
    assert float(dv_lower_bound(perfect)) > 1e3  # a perfect critic separates joint from product pairs
    assert float(infonce_lower_bound(perfect)) == pytest.approx(math.log(4), abs=1e-5)
    assert float(smile_lower_bound(perfect, clip=5.0)) > 1e3


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        (np.zeros((3, 3)), TypeError, "scores must be a torch.Tensor"),
        (torch.zeros(3, 3, dtype=torch.int64), TypeError, "floating dtype"),
        (torch.zeros(3, 4), ValueError, "square matrix"),
        (torch.zeros(1, 1), ValueError, "n >= 2"),
    ],
)
def test_bad_scores_are_refused(bad, exc, match):
    with pytest.raises(exc, match=match):
        dv_lower_bound(bad)


def test_bad_options_are_refused():
    s = torch.zeros(3, 3)
    with pytest.raises(ValueError, match="clip must be a finite number > 0"):
        smile_lower_bound(s, clip=0.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        interpolated_lower_bound(s, alpha=1.5)
    with pytest.raises(ValueError, match=r"log_baseline must be a scalar or have shape \(3,\)"):
        tuba_lower_bound(s, torch.zeros(2))
    with pytest.raises(ValueError, match="report must be 'dv' or 'nwj'"):
        js_lower_bound(s, report="kl")
    with pytest.raises(ValueError, match=r"momentum must lie in \(0, 1\]"):
        update_log_ema(torch.tensor(0.0), torch.tensor(0.0), momentum=0.0)


def test_js_row_terms_average_to_the_js_objective_and_sampled_pairs_estimate_it():
    scores = torch.randn(12, 12, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2
    rows = js_row_terms(scores)
    assert rows.shape == (12,)
    assert float(rows.mean()) == pytest.approx(float(js_objective(scores)), abs=1e-12)
    # Every product pair given as a "sample": the sampled objective is the full one.
    product = scores[~torch.eye(12, dtype=torch.bool)]
    assert float(sampled_js_objective(scores.diagonal(), product)) == pytest.approx(float(js_objective(scores)), abs=1e-12)
    # A leading batch dimension gives each matrix's objective.
    batch = torch.stack([scores, -scores])
    assert torch.allclose(js_objective(batch, batched=True), torch.stack([js_objective(scores), js_objective(-scores)]))
    with pytest.raises(ValueError, match=r"scores must be a square matrix"):
        js_objective(batch)


def test_bound_options_and_baselines_are_checked():
    s = torch.zeros(4, 4)
    cases = [
        (lambda: smile_lower_bound(s, clip=0.0), ValueError, "clip must be a finite number > 0"),
        (lambda: interpolated_lower_bound(s, alpha=1.5), ValueError, r"alpha must lie in \[0, 1\]"),
        (lambda: tuba_lower_bound(s, torch.zeros(5)), ValueError, r"log_baseline must be a scalar or have shape \(4,\)"),
        # (n, 1) would broadcast against the columns: refused, not broadcast
        (lambda: tuba_lower_bound(s, torch.zeros(4, 1)), ValueError, r"log_baseline must be a scalar or have shape \(4,\)"),
        (lambda: js_lower_bound(s, report="kl"), ValueError, "report must be 'dv' or 'nwj'"),
        (lambda: update_log_ema(torch.tensor(0.0), torch.tensor(0.0), momentum=0.0), ValueError, r"momentum must lie in \(0, 1\]"),
        (lambda: clip_logits(s, tau=0.7), ValueError, r"tau must lie in \(0, 1\)|tau must lie in \(0, 0.5\)"),
        (lambda: two_sample_dv_bound(torch.zeros(0), torch.zeros(3)), ValueError, "joint must hold at least one logit"),
        (
            lambda: two_sample_nwj_bound(torch.zeros(3), torch.zeros(3, dtype=torch.long)),
            TypeError,
            "product must be a floating-point torch.Tensor",
        ),
        (lambda: two_sample_mean_log_ratio(np.zeros(3)), TypeError, "joint must be a floating-point torch.Tensor"),
    ]
    for fn, exc, match in cases:
        with pytest.raises(exc, match=match):
            fn()
