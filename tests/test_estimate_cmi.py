"""estimate_cmi against Gaussian CMI ground truth, the conditional-independence null, and its contract."""

import numpy as np
import pytest
import torch

import miestim
from miestim.estimate_cmi import less_predictable
from miestim.gaussian import GaussianChainTask, GaussianCMITask

FAST = dict(hidden=(64, 64), max_steps=800, progress=False)


def random_covariance(dim: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(dim, dim))
    return a @ a.T / dim + 0.3 * np.eye(dim)


def check(res, truth, *, allowance):
    # The default readout, DV, is a lower bound: above the truth only by sampling noise
    # (4 stderr), below it by the classifier's finite-sample bias (allowance) plus noise.
    # The mean log-ratio of the same classifier is not a bound: it may err either way.
    assert np.isfinite(res.value) and res.stderr > 0
    assert truth - allowance - 4 * res.stderr <= res.value <= truth + 4 * res.stderr, (res, truth)
    assert abs(res.extra["mean_log_ratio"] - truth) <= allowance + 4 * res.extra["stderrs"]["mean_log_ratio"], (res.extra, truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_gaussian_covariances(seed):
    task = GaussianCMITask(random_covariance(4, seed), [0], [1], [2, 3])
    x, y, z = task.sample(6000, seed=seed)
    res = miestim.estimate_cmi(x, y, z, seed=0, **FAST)
    check(res, task.conditional_mutual_information, allowance=0.05 + 0.15 * task.conditional_mutual_information)


def test_gaussian_chain():
    task = GaussianChainTask(1)
    x, y, z = task.sample(8000, seed=0)
    res = miestim.estimate_cmi(x, y, z, seed=0, **FAST)
    check(res, task.conditional_mutual_information, allowance=0.15 * task.conditional_mutual_information)


def test_conditional_independence_null_is_zero_within_three_standard_errors():
    task = GaussianChainTask(1, target="x;z|y")
    x, y, z = task.sample(8000, seed=1)
    res = miestim.estimate_cmi(x, y, z, seed=0, **FAST)
    assert task.conditional_mutual_information == 0.0
    assert abs(res.value) <= 3 * res.stderr, res


def test_discrete_z_is_sampled_within_strata():
    # Given the class z, x and y share a z-dependent mean only: I(X;Y|Z) = 0 although I(X;Y) > 0.
    rng = np.random.default_rng(3)
    z = rng.integers(0, 4, size=6000)
    x = 2.0 * z[:, None] + rng.normal(size=(6000, 1))
    y = -1.5 * z[:, None] + rng.normal(size=(6000, 1))
    res = miestim.estimate_cmi(x, y, z, seed=0, **FAST)
    assert res.extra["discrete_z"] is True
    assert abs(res.value) <= 3 * res.stderr, res


def test_result_contract_and_readouts():
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    res = miestim.estimate_cmi(x, y, z, k=3, seed=0, hidden=(16,), max_steps=60, eval_every=20, progress=False)
    assert isinstance(res, miestim.EstimateResult) and isinstance(res.estimator, miestim.CMINE)
    assert res.quantity == "I(X;Y|Z)" and res.method == "cmine-dv" and res.units == "nats"
    assert (res.n_train, res.n_validation, res.n_test) == (600, 200, 200)
    assert res.value == res.extra["dv"] and res.stderr == res.extra["stderrs"]["dv"]
    assert res.extra["nwj"] <= res.extra["dv"] and res.extra["k"] == 3
    assert not res.estimator.training and res.history.steps[-1] <= 60


def test_same_seed_same_result_and_global_rng_untouched():
    x, y, z = GaussianChainTask(1).sample(800, seed=0)
    state = torch.get_rng_state()
    a = miestim.estimate_cmi(x, y, z, seed=5, hidden=(16,), max_steps=40, progress=False)
    assert torch.equal(state, torch.get_rng_state())
    b = miestim.estimate_cmi(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(z), seed=5, hidden=(16,), max_steps=40, progress=False)
    c = miestim.estimate_cmi(x, y, z, seed=6, hidden=(16,), max_steps=40, progress=False)
    assert (a.value, a.stderr) == (b.value, b.stderr) and a.value != c.value


GOOD = np.random.default_rng(0).normal(size=(100, 2))


@pytest.mark.parametrize(
    "x, y, z, kwargs, exc, match",
    [
        (GOOD, GOOD, GOOD[:90], {}, ValueError, "x, y, z must have the same number of samples"),
        (GOOD, GOOD, np.full((100, 2), np.nan), {}, ValueError, "z contains NaN or infinite values"),
        (GOOD, GOOD, GOOD > 0, {}, TypeError, "z must hold real numbers; got boolean dtype"),
        (GOOD, GOOD, GOOD.reshape(100, 2, 1), {}, ValueError, r"z must be 1-D"),
        (GOOD, GOOD, np.c_[GOOD[:, 0], np.ones(100)], {}, ValueError, r"z has constant \(zero-variance\) columns \[1\]"),
        (GOOD, GOOD, GOOD, {"k": 19}, ValueError, "k=19 is too large"),
        (GOOD, GOOD, GOOD, {"k": 0}, ValueError, "k must be an integer >= 1"),
        (GOOD, GOOD, GOOD, {"readout": "mi"}, ValueError, "readout"),
        (GOOD, GOOD, GOOD, {"resample": "z"}, ValueError, "resample"),
        (GOOD, GOOD, GOOD, {"tau": 0.6}, ValueError, "tau"),
        (GOOD, GOOD, GOOD, {"standardize": "minmax"}, ValueError, "standardize must be"),
        (GOOD[:8], GOOD[:8], GOOD[:8], {}, ValueError, "too few for the split"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(x, y, z, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        miestim.estimate_cmi(x, y, z, progress=False, **kwargs)


def test_resample_y_is_the_same_estimate_with_roles_swapped():
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    kwargs = dict(seed=3, hidden=(16,), max_steps=40, progress=False)
    swapped = miestim.estimate_cmi(x, y, z, resample="y", **kwargs)
    assert swapped.value == miestim.estimate_cmi(y, x, z, resample="x", **kwargs).value
    assert swapped.extra["resample"] == "y" and swapped.estimator.x_dim == 1


def test_auto_resample_redraws_the_variable_z_predicts_least():
    # Null chain (X, Z, Y): X given Y has sd 1 of 10, Z given Y sd 5 of 11, so Z is the one to redraw.
    x, z, y = GaussianChainTask(2, target="x;z|y").sample(2000, seed=0)
    kwargs = dict(seed=0, hidden=(16,), max_steps=20, progress=False)
    assert miestim.estimate_cmi(x, z, y, **kwargs).extra["resample"] == "y"
    assert miestim.estimate_cmi(z, x, y, **kwargs).extra["resample"] == "x"
    auto = miestim.estimate_cmi(x, z, y, **kwargs)
    assert auto.value == miestim.estimate_cmi(x, z, y, resample="y", **kwargs).value


def test_auto_resample_keeps_x_for_discrete_z():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, size=1500)
    a, b = label + 0.1 * rng.normal(size=1500), label + rng.normal(size=1500)
    res = miestim.estimate_cmi(a, b, label, seed=0, hidden=(16,), max_steps=20, progress=False)
    assert res.extra["resample"] == "x" and res.extra["discrete_z"]


def test_less_predictable_compares_linear_r_squared():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 3, generator=gen)
    tight = z @ torch.randn(3, 2, generator=gen) + 0.1 * torch.randn(5000, 2, generator=gen)
    loose = z[:, :1] + 3.0 * torch.randn(5000, 1, generator=gen)
    rows = torch.arange(5000)
    assert less_predictable(tight, loose, z, rows=rows) == "y"
    assert less_predictable(loose, tight, z, rows=rows) == "x"
