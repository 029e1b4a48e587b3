"""estimate_cmi (CMINE and the chain rule) against Gaussian CMI ground truth, the conditional-independence null, and its contract."""

import numpy as np
import pytest
import torch

import miestim
from miestim.conditioning import less_predictable
from miestim.gaussian import ClassConditionalGaussianTask, GaussianChainTask, GaussianCMITask
from tests._inputs import X, Y, Z, run_cmi

FAST = dict(method="cmine", hidden=(64, 64), max_steps=800, progress=False)
TINY = dict(method="cmine", hidden=(16,), progress=False)
GAUSSIAN = dict(method="chain_rule", families=("gaussian",), progress=False)


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
    res = miestim.estimate_cmi(x, y, z, k=3, seed=0, max_steps=60, eval_every=20, **TINY)
    assert isinstance(res, miestim.EstimateResult) and isinstance(res.estimator, miestim.CMINE)
    assert res.quantity == "I(X;Y|Z)" and res.method == "cmine-dv" and res.units == "nats"
    assert (res.n_train, res.n_validation, res.n_test) == (600, 200, 200)
    assert res.value == res.extra["dv"] and res.stderr == res.extra["stderrs"]["dv"]
    assert res.extra["nwj"] <= res.extra["dv"] and res.extra["k"] == 3
    assert not res.estimator.training and res.history.steps[-1] <= 60


def test_seed_none_draws_a_fresh_seed_without_touching_any_global_rng():
    x, y, z = GaussianChainTask(1).sample(400, seed=0)
    torch.manual_seed(3)
    np.random.seed(3)
    state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()
    values = {miestim.estimate_cmi(x, y, z, seed=None, max_steps=10, **TINY).value for _ in range(2)}
    assert torch.equal(state, torch.get_rng_state()) and np.array_equal(np_state, np.random.get_state()[1])
    assert len(values) == 2  # two fresh seeds, two different splits


def test_same_seed_same_result_and_global_rng_untouched():
    x, y, z = GaussianChainTask(1).sample(800, seed=0)
    state = torch.get_rng_state()
    a = miestim.estimate_cmi(x, y, z, seed=5, max_steps=40, **TINY)
    assert torch.equal(state, torch.get_rng_state())
    b = miestim.estimate_cmi(torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(z), seed=5, max_steps=40, **TINY)
    c = miestim.estimate_cmi(x, y, z, seed=6, max_steps=40, **TINY)
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
        (GOOD, GOOD, GOOD, {"k": 19, "method": "cmine"}, ValueError, "k=19 is too large"),
        (GOOD, GOOD, GOOD, {"k": 0}, ValueError, "k must be an integer >= 1"),
        (GOOD, GOOD, GOOD, {"readout": "mi"}, ValueError, "readout"),
        (GOOD, GOOD, GOOD, {"resample": "z"}, ValueError, "resample"),
        (GOOD, GOOD, GOOD, {"tau": 0.6}, ValueError, "tau"),
        (GOOD, GOOD, GOOD, {"standardize": "minmax"}, ValueError, "standardize must be"),
        (GOOD[:8], GOOD[:8], GOOD[:8], {"method": "cmine"}, ValueError, "too few for the split"),
        (GOOD[:8], GOOD[:8], GOOD[:8], {}, ValueError, "8 samples are too few for 5 folds"),
        (GOOD, GOOD, GOOD, {"method": "knn"}, ValueError, "method must be one of"),
        (GOOD, GOOD, GOOD, {"folds": 1}, ValueError, "folds must be an integer >= 2"),
        (GOOD, GOOD, GOOD, {"families": ("gaussian", "mlp")}, ValueError, "families must be one of"),
        (GOOD, GOOD, GOOD, {"method": "cmine", "folds": 3}, ValueError, "folds is an option of method='chain_rule', which CMINE does not use"),
        (GOOD, GOOD, GOOD, {"method": "cmine", "families": ("gaussian",)}, ValueError, "families is an option of method='chain_rule'"),
        # CMINE's options are refused by name under the chain rule, also when method="auto" chose it.
        (
            GOOD,
            GOOD,
            GOOD,
            {"k": 10_000},
            ValueError,
            r"k is an option of method='cmine', which the chain rule \(chosen by method='auto'\) does not use",
        ),
        (GOOD, GOOD, GOOD, {"method": "chain_rule", "hidden": (8,), "tau": 0.01}, ValueError, "hidden and tau are options of method='cmine'"),
        (GOOD, GOOD, GOOD, {"method": "chain_rule", "knn_correction": True}, ValueError, "knn_correction is an option of method='cmine'"),
        (GOOD, GOOD, GOOD, {"split": (0.5, 0.5)}, ValueError, "split must have 3 fractions"),
        (GOOD, GOOD, np.r_[np.zeros(95), np.ones(5)], {"method": "chain_rule"}, ValueError, r"stratum z=\[1.0\] has 5 rows"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(x, y, z, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        miestim.estimate_cmi(x, y, z, progress=False, **kwargs)


def test_resample_y_is_the_same_estimate_with_roles_swapped():
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    kwargs = dict(seed=3, max_steps=40, **TINY)
    swapped = miestim.estimate_cmi(x, y, z, resample="y", **kwargs)
    assert swapped.value == miestim.estimate_cmi(y, x, z, resample="x", **kwargs).value
    assert swapped.extra["resample"] == "y" and swapped.estimator.x_dim == 1


def test_auto_resample_redraws_the_variable_z_predicts_least():
    # Null chain (X, Z, Y): X given Y has sd 1 of 10, Z given Y sd 5 of 11, so Z is the one to redraw.
    x, z, y = GaussianChainTask(2, target="x;z|y").sample(2000, seed=0)
    kwargs = dict(seed=0, max_steps=20, **TINY)
    assert miestim.estimate_cmi(x, z, y, **kwargs).extra["resample"] == "y"
    assert miestim.estimate_cmi(z, x, y, **kwargs).extra["resample"] == "x"
    auto = miestim.estimate_cmi(x, z, y, **kwargs)
    assert auto.value == miestim.estimate_cmi(x, z, y, resample="y", **kwargs).value


def test_auto_resample_keeps_x_for_discrete_z():
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, size=1500)
    a, b = label + 0.1 * rng.normal(size=1500), label + rng.normal(size=1500)
    res = miestim.estimate_cmi(a, b, label, seed=0, max_steps=20, **TINY)
    assert res.extra["resample"] == "x" and res.extra["discrete_z"]


def test_less_predictable_compares_linear_r_squared():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 3, generator=gen)
    tight = z @ torch.randn(3, 2, generator=gen) + 0.1 * torch.randn(5000, 2, generator=gen)
    loose = z[:, :1] + 3.0 * torch.randn(5000, 1, generator=gen)
    rows = torch.arange(5000)
    assert less_predictable(tight, loose, z, rows=rows) == "y"
    assert less_predictable(loose, tight, z, rows=rows) == "x"


# ---------------------------------------------------------------------------------------------- chain rule
def within(res, truth, sigmas=4.0):
    # The Gaussian-copula family is the exact model class for Gaussian data: what is left is noise.
    return abs(res.value - truth) <= sigmas * res.stderr


@pytest.mark.parametrize("seed", [0, 1])
def test_chain_rule_on_random_gaussian_covariances(seed):
    task = GaussianCMITask(random_covariance(9, seed), [0, 1], [2, 3], [4, 5, 6, 7, 8])
    x, y, z = task.sample(4000, seed=seed)
    res = miestim.estimate_cmi(x, y, z, seed=seed, **GAUSSIAN)
    assert res.method == "chain_rule" and res.quantity == "I(X;Y|Z)"
    assert within(res, task.conditional_mutual_information), (res, task.conditional_mutual_information)


def test_chain_rule_null_and_paired_stderr():
    task = GaussianChainTask(2, target="x;z|y")
    x, y, z = task.sample(4000, seed=0)
    res = miestim.estimate_cmi(x, y, z, seed=0, **GAUSSIAN)
    assert within(res, 0.0), res
    # Both terms are large (about 2 nats) and equal; their errors cancel row by row, so the paired
    # stderr is far below the quadrature of the terms' stderrs.
    assert res.stderr < 0.2 * res.extra["quadrature_stderr"], res.extra
    (v1, _), (v2, _) = res.extra["terms"].values()
    assert res.value == pytest.approx(v1 - v2) and res.value == pytest.approx(float(res.row_values.mean()))
    assert res.row_values.shape == (4000,) and res.extra["folds"] == 5


def test_chain_rule_terms_share_one_draw_of_folds(monkeypatch):
    from miestim import chain_rule

    draws = []
    real = chain_rule.fold_splits
    monkeypatch.setattr(chain_rule, "fold_splits", lambda *a, **kw: draws.append(real(*a, **kw)) or draws[-1])
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    miestim.estimate_cmi(x, y, z, seed=0, folds=3, **GAUSSIAN)
    assert len(draws) == 1 and len(draws[0]) == 3


def test_chain_rule_conditions_on_the_variable_z_predicts_less():
    # Chain X -> Y -> Z: Z predicts Y (R^2 0.8) better than X; (X, Y) swapped, the form swaps too.
    x, y, z = GaussianChainTask(1).sample(2000, seed=0)
    assert miestim.estimate_cmi(x, y, z, **GAUSSIAN).extra["form"] == "I(X;Y,Z) - I(X;Z)"
    swapped = miestim.estimate_cmi(y, x, z, **GAUSSIAN)
    assert swapped.extra["form"] == "I(Y;X,Z) - I(Y;Z)" and swapped.extra["variable"] == "y"


def test_chain_rule_stratifies_a_discrete_z():
    task = ClassConditionalGaussianTask([0.0, 0.6, 0.9])
    x, y, z = task.sample(4500, seed=0)
    res = miestim.estimate_cmi(x, y, z, seed=0, **GAUSSIAN)
    assert res.extra["discrete_z"] and res.extra["variable"] is None
    assert sorted(res.extra["strata"]) == ["z=[0.0]", "z=[1.0]", "z=[2.0]"]
    assert sum(rows for rows, _, _ in res.extra["strata"].values()) == 4500
    assert within(res, task.conditional_mutual_information), (res, task.conditional_mutual_information)


def test_auto_runs_the_chain_rule_and_cmine_for_small_strata():
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    assert miestim.estimate_cmi(x, y, z, families=("gaussian",), progress=False).method == "chain_rule"
    label = np.r_[np.zeros(900), np.ones(60), 2 * np.ones(40)]  # smallest stratum 40 < 20 x 5 folds
    rng = np.random.default_rng(0)
    res = miestim.estimate_cmi(rng.normal(size=1000), rng.normal(size=1000), label, hidden=(16,), max_steps=20, progress=False)
    assert res.method == "cmine-dv" and res.extra["discrete_z"]


def test_knn_correction_subtracts_the_surrogate_null_fit():
    x, y, z = GaussianChainTask(1).sample(1000, seed=0)
    kwargs = dict(seed=0, max_steps=40, **TINY)
    raw = miestim.estimate_cmi(x, y, z, **kwargs)
    res = miestim.estimate_cmi(x, y, z, knn_correction=True, **kwargs)
    assert res.method == "cmine-dv-corrected" and res.extra["uncorrected"]["dv"] == raw.value
    for name in ("dv", "nwj", "mean_log_ratio"):
        assert res.extra[name] == pytest.approx(res.extra["uncorrected"][name] - res.extra["bias"][name])
    assert res.value == res.extra["dv"] and res.stderr > raw.stderr


def test_knn_correction_refuses_a_discrete_z():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="knn_correction applies to a continuous z"):
        miestim.estimate_cmi(rng.normal(size=600), rng.normal(size=600), rng.integers(0, 3, 600), knn_correction=True, max_steps=10, **TINY)


# ---------------------------------------------------------------------------------------------
# Options refused by name (zero, negative, wrong type, unknown names with suggestions), on the tiny
# clean data of the cross-entry malformed-input contract (tests/_inputs.py).

BAD_OPTIONS = [
    # (kwargs, exception, match), on top of CMINE's tiny settings
    ({"folds": 3}, ValueError, "folds is an option of method='chain_rule', which CMINE does not use"),
    ({"k": 0}, ValueError, "k must be an integer >= 1; got 0"),
    ({"k": 11}, ValueError, r"k=11 is too large: .* the validation split has 12 samples"),
    ({"k": 2.0}, TypeError, "k must be an integer >= 1"),
    ({"tau": 0.0}, ValueError, r"tau must lie in \(0, 1\)"),
    ({"tau": 0.5}, ValueError, r"tau must lie in \(0, 0.5\)"),
    ({"lr": 0}, ValueError, "lr must be a finite number > 0"),
    ({"batch_size": 1}, ValueError, "batch_size must be an integer >= 2"),
    ({"eval_every": 0}, ValueError, "eval_every must be an integer >= 1"),
    ({"hidden": (8, -1)}, ValueError, "hidden width must be an integer >= 1"),
    ({"readout": "mean_log_ratoi"}, ValueError, r"readout must be one of .*Did you mean 'mean_log_ratio'"),
    ({"resample": "z"}, ValueError, r"resample must be one of \['auto', 'x', 'y'\]; got 'z'"),
    ({"activation": "sigmoidd"}, ValueError, "activation must be one of"),
    ({"standardize": "zcore"}, ValueError, "Did you mean 'zscore'"),
]


@pytest.mark.parametrize("kwargs, exc, match", [pytest.param(*c, id=f"{'-'.join(map(str, c[0]))}-{i}") for i, c in enumerate(BAD_OPTIONS)])
def test_bad_options_are_refused_naming_them(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        run_cmi(X, Y, Z, **kwargs)


def test_stratified_chain_rule_reports_every_stratum_and_weights_them_by_size():
    """Strata of 600, 900 and 1,500 rows with correlations 0, 0.6 and 0.9: each stratum's estimate is reported,
    the whole is their size-weighted mean, and every stratum's critics and the first stratum's fold sizes reach the result."""
    gen = np.random.default_rng(4)
    sizes, rhos = (600, 900, 1500), (0.0, 0.6, 0.9)
    z = np.repeat([0.0, 1.0, 2.0], sizes)
    x = gen.standard_normal(z.size)
    rho = np.repeat(rhos, sizes)
    y = rho * x + np.sqrt(1 - rho**2) * gen.standard_normal(z.size)
    torch.manual_seed(3)
    before = torch.get_rng_state()
    res = miestim.estimate_cmi(x, y, z, seed=0, **GAUSSIAN)
    assert torch.equal(torch.get_rng_state(), before)
    assert res.value == miestim.estimate_cmi(x, y, z, seed=0, **GAUSSIAN).value, "the seed fixes every stratum's folds"
    assert res.extra["form"] == "sum_c p(c) I(X;Y|Z=c)" and res.extra["folds"] == 5
    strata = res.extra["strata"]
    assert list(strata) == ["z=[0.0]", "z=[1.0]", "z=[2.0]"] and [rows for rows, _, _ in strata.values()] == list(sizes)
    assert res.extra["families"] == {name: ["gaussian"] * 5 for name in strata}
    for (rows, value, se), r in zip(strata.values(), rhos):
        assert abs(value + 0.5 * np.log(1 - r**2)) < 4 * se + 0.02, (rows, value, se, r)
    assert res.value == pytest.approx(sum(rows * value for rows, value, _ in strata.values()) / z.size, abs=1e-9)
    assert len(res.estimator) == 3 * 5
    assert res.n_train + res.n_validation == 600 - 600 // 5  # the first stratum's first fold


def test_a_stratum_too_small_for_the_folds_names_the_remedies():
    z = np.r_[np.zeros(95), np.ones(5)]
    x, y = np.random.default_rng(0).standard_normal((2, 100))
    with pytest.raises(ValueError, match=r"Use fewer folds, merge rare values of z, or method='cmine' \(one classifier for all strata\)\."):
        miestim.estimate_cmi(x, y, z, method="chain_rule", progress=False)


def test_chain_rule_terms_are_the_two_mis_of_the_variable_z_predicts_less():
    """Z tracks Y (correlation 0.9) far more than X (0.3): the chain rule conditions on X, and each reported term is its
    own MI within its SE (the terms with Y in X's place differ by 0.8 nats)."""
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.9], [0.3, 0.9, 1.0]])
    task = GaussianCMITask(cov, [0], [1], [2])
    x, y, z = task.sample(6000, seed=1)
    ix, iy, iz = (0,), (1,), (2,)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    res = miestim.estimate_cmi(x, y, z, seed=3, **GAUSSIAN)
    assert torch.equal(torch.get_rng_state(), before)
    assert res.value == miestim.estimate_cmi(x, y, z, seed=3, **GAUSSIAN).value, "the seed fixes the folds"
    assert res.extra["variable"] == "x" and res.extra["discrete_z"] is False
    truths = {"I(X;Y,Z)": miestim.gaussian.mutual_information(cov, ix, iy + iz), "I(X;Z)": miestim.gaussian.mutual_information(cov, ix, iz)}
    terms = res.extra["terms"]
    assert list(terms) == list(truths)
    for name, (value, se) in terms.items():
        assert abs(value - truths[name]) < 4 * se + 0.01, (name, value, se, truths[name])
    assert res.extra["quadrature_stderr"] == pytest.approx(float(np.hypot(*(se for _, se in terms.values()))), rel=1e-12)
    assert res.value == pytest.approx(terms["I(X;Y,Z)"][0] - terms["I(X;Z)"][0], abs=1e-9)


@pytest.mark.parametrize("progress", [True, False])
def test_chain_rule_shows_its_training_progress_only_when_asked(progress, capsys):
    x, y, z = GaussianChainTask(1).sample(300, seed=0)
    small = miestim.crossfit.ResidualFamily(hidden=8, embed_dim=4)  # on Gaussian data it is screened out after 200 steps
    miestim.estimate_cmi(x, y, z, method="chain_rule", families=("gaussian", small), progress=progress, seed=0)
    shown = capsys.readouterr().err
    assert ("residual, 5 folds]" in shown) == progress, shown[-300:]
    # Each term's bars name the term.
    for term in ("estimate_cmi[I(X;Y,Z): residual", "estimate_cmi[I(X;Z): residual"):
        assert (term in shown) == progress, shown[-300:]
    assert "estimate_mi[" not in shown


def test_cmine_k_must_leave_a_candidate_in_the_smallest_split():
    """100 rows split 60/20/20: 19 candidate neighbours per point in the validation and test splits."""
    x, y, z = GaussianChainTask(1).sample(100, seed=0)
    res = miestim.estimate_cmi(x, y, z, k=18, max_steps=5, seed=0, **TINY)
    assert np.isfinite(res.value) and res.seconds > 0
    with pytest.raises(ValueError, match="the validation split has 20 samples, i.e. 19 candidate neighbours per point; k must be smaller"):
        miestim.estimate_cmi(x, y, z, k=19, max_steps=5, seed=0, **TINY)


def test_cmine_clips_its_held_out_logits_at_tau():
    """tau = 0.4 clips every logit to log(0.6 / 0.4) = 0.405 nats: no readout can exceed it, whatever the CMI (here 0.8)."""
    task = GaussianChainTask(1)
    x, y, z = task.sample(1500, seed=0)
    res = miestim.estimate_cmi(x, y, z, tau=0.4, max_steps=200, seed=0, **TINY)
    assert task.conditional_mutual_information > 0.6
    assert res.extra["mean_log_ratio"] <= np.log(0.6 / 0.4) + 1e-6 and res.extra["dv"] <= np.log(0.6 / 0.4) + 1e-6
