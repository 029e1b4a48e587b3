"""estimate_mi against Gaussian ground truth, and its contract (splits, seeds, errors)."""

import numpy as np
import pytest
import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask, RotatedTask, TransformedTask
from tests._inputs import X, Y, Z, run_auto, run_mi

FAST = dict(max_steps=600, progress=False)
# The named estimators' one-split machinery (history, epochs, batch shrinking) is tested through SMILE.
NAMED = dict(estimator="smile", progress=False)

# Tolerances. Each estimate is checked as  true - bias <= value <= true + 4 * stderr  for
# valid lower bounds: a held-out lower bound may only exceed the truth by sampling noise,
# while finite-sample critics (a few thousand training pairs, 600 steps) stay below it by a
# bias that grows with MI and dimension. The allowance is that bias as measured on these
# settings with margin, 0.1 nats + 10% of the MI; InfoNCE also saturates towards log(batch).
# SMILE's clipped readout is not a bound, so it is checked on both sides with 4 * stderr + allowance.
BOUNDS = ["dv", "nwj", "mine", "infonce", "js", "tuba", "interpolated"]


def allowance(mi: float) -> float:
    return 0.1 + 0.1 * mi


def check(res, true_mi, *, two_sided=False):
    assert np.isfinite(res.value) and res.stderr > 0
    upper = true_mi + 4 * res.stderr + (allowance(true_mi) if two_sided else 0.0)
    assert true_mi - allowance(true_mi) - 4 * res.stderr <= res.value <= upper, (res, true_mi)


@pytest.mark.parametrize("name", BOUNDS + ["smile"])
def test_every_estimator_recovers_gaussian_mi(name):
    x, y = CorrelatedGaussianTask(5, 2.0).sample(4000, seed=1)
    res = miestim.estimate_mi(x, y, estimator=name, seed=0, **FAST)
    check(res, 2.0, two_sided=name == "smile")


@pytest.mark.parametrize("dim, mi, n", [(1, 0.5, 3000), (1, 2.0, 3000), (5, 1.0, 4000), (20, 4.0, 8000)])
def test_default_estimator_across_dimensions(dim, mi, n):
    x, y = CorrelatedGaussianTask(dim, mi).sample(n, seed=2)
    res = miestim.estimate_mi(x, y, seed=0, **FAST)
    check(res, mi, two_sided=True)


@pytest.mark.parametrize("transform", ["cube", "asinh"])
def test_rotated_and_transformed_gaussian_keeps_its_mi(transform):
    task = TransformedTask(RotatedTask(CorrelatedGaussianTask(5, 2.0), seed=3), transform=transform)
    x, y = task.sample(6000, seed=3)
    res = miestim.estimate_mi(x, y, seed=0, **FAST)
    check(res, task.mutual_information, two_sided=True)


def test_rank_scaling_is_what_rescues_heavy_tails():
    # With plain z-scoring the cubed marginals (tails at ~15 sd) starve SMILE's critic: it
    # stays far below the truth, so its success on rank-scaled data is the rank scaling's doing.
    task = TransformedTask(RotatedTask(CorrelatedGaussianTask(5, 2.0), seed=3), transform="cube")
    x, y = task.sample(6000, seed=3)
    zscored = miestim.estimate_mi(x, y, estimator="smile", seed=0, standardize="zscore", **FAST)
    assert zscored.value + 4 * zscored.stderr < task.mutual_information - allowance(task.mutual_information)


@pytest.mark.parametrize("estimator", ["auto", "smile"])
@pytest.mark.parametrize("standardize", [True, "zscore", False])
def test_other_scalings_run_on_gaussian_data(standardize, estimator):
    x, y = CorrelatedGaussianTask(2, 1.0).sample(3000, seed=5)
    res = miestim.estimate_mi(x, y, estimator=estimator, seed=0, standardize=standardize, **FAST)
    check(res, 1.0, two_sided=True)


@pytest.mark.parametrize("name", BOUNDS + ["smile"])
def test_independent_data_gives_zero_within_three_standard_errors(name):
    x, y = CorrelatedGaussianTask(3, 0.0).sample(4000, seed=4)
    res = miestim.estimate_mi(x, y, estimator=name, seed=0, **FAST)
    assert abs(res.value) <= 3 * res.stderr, res


def test_the_default_is_the_cross_fitted_auto_estimator():
    x, y = CorrelatedGaussianTask(2, 1.0).sample(1000, seed=0)
    res = miestim.estimate_mi(x, y, seed=0, max_steps=50, progress=False)
    assert res.method == "auto" and res.extra["folds"] == 3 and res.n_test == 1000
    assert res.extra["families"] == ["gaussian"] * 3 and res.extra["readout"] == "in-sample, bias-corrected"
    assert res.evaluated_on.startswith("all 1000 rows, in-sample and bias-corrected")
    # The critic read out is the one fitted to every row.
    assert isinstance(res.estimator, torch.nn.ModuleList) and len(res.estimator) == 1
    held_out = miestim.estimate_mi(x, y, seed=0, max_steps=50, progress=False, families=[miestim.crossfit.GaussianFamily(bias_corrected=False)])
    assert held_out.evaluated_on.startswith("every row once") and len(held_out.estimator) == 3
    assert held_out.extra["readout"] == "held-out" and held_out.value == res.extra["held_out"][0]


@pytest.mark.parametrize(
    "kwargs, given",
    [
        ({"critic": "concat"}, "critic"),
        ({"critic_kwargs": {"hidden": (8,)}}, "critic_kwargs"),
        ({"estimator_kwargs": {"clip": 5.0}, "critic": "bilinear"}, "critic and estimator_kwargs"),
    ],
)
def test_named_estimator_options_with_the_default_say_what_to_pass(kwargs, given):
    x, y = CorrelatedGaussianTask(1, 0.5).sample(200, seed=0)
    with pytest.raises(ValueError, match=rf"{given} (is an option|are options) of a named estimator \(e.g. estimator='smile'\)"):
        miestim.estimate_mi(x, y, progress=False, **kwargs)


def test_result_contract_and_held_out_split():
    x, y = CorrelatedGaussianTask(2, 1.0).sample(1000, seed=0)
    res = miestim.estimate_mi(x, y, seed=0, max_steps=50, eval_every=25, **NAMED)
    assert isinstance(res, miestim.EstimateResult)
    assert (res.n_train, res.n_validation, res.n_test) == (700, 100, 200)
    assert res.units == "nats" and res.evaluated_on == "held-out test split"
    assert isinstance(res.estimator, miestim.SMILE) and not res.estimator.training
    assert res.history.steps[-1] <= 50 and len(res.history.validation) == len(res.history)
    assert res.seconds > 0
    assert "I(X;Y)" in repr(res)


def test_same_seed_same_result_and_global_rng_untouched():
    x, y = CorrelatedGaussianTask(2, 1.0).sample(1000, seed=0)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = miestim.estimate_mi(x, y, seed=7, max_steps=60, **NAMED)
    assert torch.equal(state, torch.get_rng_state())
    b = miestim.estimate_mi(torch.from_numpy(x), torch.from_numpy(y), estimator="smile", seed=7, max_steps=60, progress=True)
    c = miestim.estimate_mi(x, y, seed=8, max_steps=60, **NAMED)
    assert a.value == b.value and a.stderr == b.stderr
    assert a.value != c.value


def test_estimator_instance_and_critic_options():
    x, y = CorrelatedGaussianTask(2, 1.0).sample(800, seed=0)
    est = miestim.NWJ(2, 2, critic="bilinear")
    res = miestim.estimate_mi(x, y, estimator=est, max_steps=40, progress=False)
    assert res.estimator is est and res.method == "nwj"
    res = miestim.estimate_mi(
        x, y, estimator="js", critic="concat", critic_kwargs={"hidden": (16,)}, max_steps=20, eval_batch_size=64, progress=False
    )
    assert isinstance(res.estimator.critic, miestim.ConcatCritic)


def test_one_dimensional_inputs_and_integer_dtypes_are_accepted():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=600)
    y = x + rng.integers(0, 3, size=600)
    res = miestim.estimate_mi(x, y, max_steps=30, **NAMED)
    assert np.isfinite(res.value) and res.estimator.x_dim == 1
    res = miestim.estimate_mi(x, y, max_steps=30, progress=False)
    assert np.isfinite(res.value) and res.estimator[0].x_dim == 1


def test_batch_larger_than_training_split_shrinks_with_warning():
    x, y = CorrelatedGaussianTask(1, 0.5).sample(100, seed=0)
    with pytest.warns(UserWarning, match="batch_size=500 is larger than the 70 training samples"):
        res = miestim.estimate_mi(x, y, batch_size=500, max_steps=10, **NAMED)
    assert np.isfinite(res.value)


def test_max_epochs_sets_the_number_of_steps():
    x, y = CorrelatedGaussianTask(1, 0.5).sample(1000, seed=0)
    res = miestim.estimate_mi(x, y, batch_size=100, max_epochs=2, eval_every=3, patience=100, **NAMED)
    assert res.history.steps[-1] == 14  # 700 training samples / 100 per batch * 2 epochs


GOOD = np.random.default_rng(0).normal(size=(50, 2))


@pytest.mark.parametrize(
    "x, y, kwargs, exc, match",
    [
        (GOOD, GOOD[:40], {}, ValueError, "x, y must have the same number of samples; x has 50, y has 40"),
        (np.where(np.eye(50, 2) > 0, np.nan, GOOD), GOOD, {}, ValueError, "x contains NaN or infinite values"),
        (GOOD, np.full((50, 2), np.inf), {}, ValueError, "y contains NaN or infinite values"),
        (GOOD.reshape(50, 2, 1), GOOD, {}, ValueError, r"x must be 1-D \(n_samples,\) or 2-D"),
        (np.array([["a", "b"]] * 50), GOOD, {}, TypeError, "x must hold real numbers; got non-numeric dtype"),
        (GOOD > 0, GOOD, {}, TypeError, "x must hold real numbers; got boolean dtype"),
        (GOOD + 1j, GOOD, {}, TypeError, "x must hold real numbers; got complex dtype"),
        ("abc", GOOD, {}, TypeError, "x must be a numpy array or torch tensor"),
        (np.zeros((0, 2)), np.zeros((0, 2)), {}, ValueError, "x needs at least 1 samples; got 0"),
        (np.c_[GOOD[:, 0], np.ones(50)], GOOD, {}, ValueError, r"x has constant \(zero-variance\) columns \[1\]"),
        (GOOD[:8], GOOD[:8], {}, ValueError, "8 samples are too few for 3 folds"),
        (GOOD[:8], GOOD[:8], {"estimator": "smile"}, ValueError, "8 samples are too few for the split"),
        (GOOD, GOOD, {"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
        (GOOD, GOOD, {"batch_size": 1}, ValueError, "batch_size must be an integer >= 2"),
        (GOOD, GOOD, {"max_steps": 0}, ValueError, "max_steps must be an integer >= 1"),
        (GOOD, GOOD, {"max_steps": 5, "max_epochs": 1}, ValueError, "give max_steps or max_epochs, not both"),
        (GOOD, GOOD, {"split": (0.5, 0.5, 0.5)}, ValueError, "split must sum to 1"),
        (GOOD, GOOD, {"seed": -1}, ValueError, "seed must be an integer >= 0"),
        (GOOD, GOOD, {"estimator": "infonse"}, ValueError, "Did you mean 'infonce'"),
        (GOOD, GOOD, {"estimator": "autp"}, ValueError, "Did you mean 'auto'"),
        (GOOD, GOOD, {"device": "gpu0"}, ValueError, "device must name a torch device"),
        (GOOD, GOOD, {"standardize": "minmax"}, ValueError, "standardize must be True, False, 'zscore' or 'rank'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(x, y, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        miestim.estimate_mi(x, y, progress=False, **kwargs)


# ---------------------------------------------------------------------------------------------
# Options refused by name (zero, negative, wrong type, unknown names with suggestions), on the tiny
# clean data of the cross-entry malformed-input contract (tests/_inputs.py).

BAD_OPTIONS = [
    # (entry, kwargs, exception, match): estimate_mi with a named bound (SMILE) or with estimator="auto"
    ("estimate_mi", {"lr": 0.0}, ValueError, "lr must be a finite number > 0; got 0.0"),
    ("estimate_mi", {"lr": -1e-3}, ValueError, "lr must be a finite number > 0"),
    ("estimate_mi", {"lr": float("nan")}, ValueError, "lr must be a finite number > 0"),
    ("estimate_mi", {"lr": "0.1"}, TypeError, "lr must be a real number"),
    ("estimate_mi", {"batch_size": 0}, ValueError, "batch_size must be an integer >= 2; got 0"),
    ("estimate_mi", {"batch_size": 2.5}, TypeError, "batch_size must be an integer >= 2"),
    ("estimate_mi", {"max_steps": 0}, ValueError, "max_steps must be an integer >= 1"),
    ("estimate_mi", {"max_steps": -5}, ValueError, "max_steps must be an integer >= 1"),
    ("estimate_mi", {"max_steps": None, "max_epochs": 0}, ValueError, "max_epochs must be an integer >= 1"),
    ("estimate_mi", {"eval_every": 0}, ValueError, "eval_every must be an integer >= 1"),
    ("estimate_mi", {"patience": -1}, ValueError, "patience must be an integer >= 1"),
    ("estimate_mi", {"eval_batch_size": 1}, ValueError, "eval_batch_size must be an integer >= 2"),
    ("estimate_mi", {"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ("estimate_mi", {"seed": 1.5}, TypeError, "seed must be an integer >= 0"),
    ("estimate_mi", {"split": (0.6, 0.4, 0.0)}, ValueError, r"split must lie in \(0, 1\)"),
    ("estimate_mi", {"split": (0.6, 0.4)}, ValueError, "split must have 3 fractions"),
    ("estimate_mi", {"split": 0.5}, TypeError, "split must be a tuple of fractions"),
    ("estimate_mi", {"estimator_kwargs": {"clip": 0.0}}, ValueError, "clip must be a finite number > 0"),
    ("estimate_mi", {"estimator": "interpolated", "estimator_kwargs": {"alpha": -0.5}}, ValueError, r"alpha must lie in \[0, 1\]"),
    ("estimate_mi", {"estimator": "mine", "estimator_kwargs": {"momentum": 0.0}}, ValueError, r"momentum must lie in \(0, 1\]"),
    ("estimate_mi", {"critic_kwargs": {"hidden": (0,)}}, ValueError, "hidden width must be an integer >= 1"),
    ("estimate_mi", {"estimator": "smiel"}, ValueError, r"estimator must be one of .*Did you mean 'smile'"),
    ("estimate_mi", {"estimator": 3}, TypeError, "estimator must be a name in"),
    ("estimate_mi", {"critic": "seperable"}, ValueError, r"critic must be one of .*Did you mean 'separable'"),
    ("estimate_mi", {"standardize": "rnak"}, ValueError, r"standardize must be True, False, 'zscore' or 'rank'; got 'rnak'\. Did you mean 'rank'"),
    ("estimate_mi", {"standardize": 1}, TypeError, "standardize must be True, False, 'zscore' or 'rank'"),
    ("estimate_mi", {"critic_kwargs": {"hiden": (8,)}}, TypeError, r"critic_kwargs has unknown option\(s\) \['hiden'\] .*Did you mean 'hidden'"),
    ("estimate_mi", {"critic_kwargs": [8]}, TypeError, "critic_kwargs must be a dict of keyword arguments"),
    ("estimate_mi", {"estimator_kwargs": {"clp": 3.0}}, TypeError, r"estimator_kwargs has unknown option\(s\) \['clp'\] .*Did you mean 'clip'"),
    ("estimate_mi", {"estimator_kwargs": {"x_dim": 3}}, TypeError, r"estimator_kwargs has unknown option\(s\) \['x_dim'\]"),
    (
        "estimate_mi",
        {"estimator_kwargs": {"critic": "joint"}},
        ValueError,
        r"estimator_kwargs must not hold \['critic'\]: pass them as estimate_mi's critic=",
    ),
    ("estimate_mi", {"critic_kwargs": {"hidden": (8,), "activation": "rellu"}}, ValueError, r"activation must be one of .*Did you mean 'relu'"),
    ("estimate_mi", {"families": ("gaussian",)}, ValueError, "families is an option of estimator='auto', which estimator='smile' does not use"),
    ("estimate_mi[auto]", {"split": (0.5, 0.6, 0.1)}, ValueError, "split must sum to 1"),
    ("estimate_mi[auto]", {"folds": 1}, ValueError, "estimator='auto' cross-fits, so folds must be >= 2"),
    ("estimate_mi[auto]", {"families": ["gaussian", "nn"]}, ValueError, "families must be one of"),
    ("estimate_mi[auto]", {"critic": "concat"}, ValueError, "critic is an option of a named estimator"),
]
RUNNERS = {"estimate_mi": run_mi, "estimate_mi[auto]": run_auto}


@pytest.mark.parametrize(
    "entry, kwargs, exc, match", [pytest.param(*c, id=f"{c[0]}-{'-'.join(map(str, c[1]))}-{i}") for i, c in enumerate(BAD_OPTIONS)]
)
def test_bad_options_are_refused_naming_them(entry, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        RUNNERS[entry](X, Y, Z, **kwargs)
