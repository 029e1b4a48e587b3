"""Every public option has a visible effect: each test sets one option and asserts what it changes in the result.

Refusal of bad values is tested elsewhere (tests/hardening); here a valid value must do what its docstring says, so an
option that is parsed and then dropped on the way to the fit fails. Tiny critics and tens of steps: each fit is cheap.
"""

import math

import numpy as np
import pytest
import torch

import miestim
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

X, Y = CorrelatedGaussianTask(2, 1.0).sample(600, 0)
CX, CY, CZ = GaussianChainTask(1).sample(600, 0)
#: A named estimator with a tiny critic; evaluating every 10 steps and never stopping early unless a test asks.
NAMED = dict(estimator="smile", critic_kwargs={"hidden": (8,), "embed_dim": 4}, max_steps=40, eval_every=10, patience=100, progress=False)
CMINE = dict(method="cmine", hidden=(8,), max_steps=40, eval_every=10, patience=100, progress=False)
CHAIN = dict(method="chain_rule", families=("gaussian",), progress=False)


def _first_linear(module: torch.nn.Module) -> torch.nn.Linear:
    return next(m for m in module.modules() if isinstance(m, torch.nn.Linear))


# ------------------------------------------------------------------------------------------------- estimate_mi
def _sizes(r: miestim.EstimateResult) -> tuple[int, int, int]:
    return r.n_train, r.n_validation, r.n_test


def test_split_sets_the_split_sizes():
    assert _sizes(miestim.estimate_mi(X, Y, **NAMED)) == (420, 60, 120)
    assert _sizes(miestim.estimate_mi(X, Y, split=(0.5, 0.25, 0.25), **NAMED)) == (300, 150, 150)


def test_max_steps_and_eval_every_set_the_evaluation_steps():
    assert miestim.estimate_mi(X, Y, **NAMED).history.steps == (10, 20, 30, 40)
    assert miestim.estimate_mi(X, Y, **{**NAMED, "max_steps": 50, "eval_every": 25}).history.steps == (25, 50)


def test_max_epochs_and_batch_size_set_the_number_of_steps():
    # 420 training rows: batches of 105 make 4 steps an epoch, batches of 210 make 2.
    options = {**NAMED, "max_steps": None, "eval_every": 1}
    assert miestim.estimate_mi(X, Y, max_epochs=2, batch_size=105, **options).history.steps[-1] == 8
    assert miestim.estimate_mi(X, Y, max_epochs=2, batch_size=210, **options).history.steps[-1] == 4


def test_patience_stops_a_fit_that_does_not_improve():
    # At a learning rate of 1e-12 the validation score never improves: patience 1 stops after the second evaluation.
    stuck = {**NAMED, "lr": 1e-12}
    short = miestim.estimate_mi(X, Y, **{**stuck, "patience": 1})
    assert short.history.stopped_early and short.history.steps == (10, 20)
    assert not miestim.estimate_mi(X, Y, **stuck).history.stopped_early


def test_lr_sets_how_far_training_moves_the_objective():
    def gain(lr: float) -> float:
        train = miestim.estimate_mi(X, Y, lr=lr, **NAMED).history.train
        return train[-1] - train[0]

    assert abs(gain(1e-9)) < 1e-3 < gain(1e-2)


def test_standardize_sets_which_transforms_leave_the_estimate_unchanged():
    # Ranks: any increasing map of a column; z-scores: an affine one; raw data: neither.
    base = {**NAMED, "estimator": "dv"}
    rank = miestim.estimate_mi(X, Y, **base).value
    assert miestim.estimate_mi(X**3, Y, **base).value == pytest.approx(rank, abs=1e-6)
    zscore = miestim.estimate_mi(X, Y, standardize="zscore", **base).value
    assert zscore != pytest.approx(rank, abs=1e-4)
    assert miestim.estimate_mi(1000 * X + 5, Y, standardize="zscore", **base).value == pytest.approx(zscore, abs=1e-4)
    raw = miestim.estimate_mi(X, Y, standardize=False, **base).value
    assert miestim.estimate_mi(1000 * X + 5, Y, standardize=False, **base).value != pytest.approx(raw, abs=1e-3)


def test_critic_and_critic_kwargs_build_the_critic_asked_for():
    r = miestim.estimate_mi(X, Y, **{**NAMED, "critic": "concat", "critic_kwargs": {"hidden": (7,)}})
    assert isinstance(r.estimator.critic, miestim.ConcatCritic)
    assert _first_linear(r.estimator.critic).out_features == 7


def test_estimator_kwargs_reach_the_estimator():
    assert miestim.estimate_mi(X, Y, estimator_kwargs={"clip": 0.5}, **NAMED).estimator.clip == 0.5


def test_an_estimator_instance_is_the_one_trained():
    est = miestim.SMILE(2, 2, critic_kwargs={"hidden": (8,), "embed_dim": 4})
    options = {k: v for k, v in NAMED.items() if k not in ("estimator", "critic_kwargs")}
    assert miestim.estimate_mi(X, Y, estimator=est, **options).estimator is est


def test_eval_batch_size_sets_the_blocks_whose_pairs_are_scored():
    # The 120 test rows fit in one block of 120 (all pairs, as the default 4096); blocks of 16 score pairs within each.
    value = miestim.estimate_mi(X, Y, **NAMED).value
    assert miestim.estimate_mi(X, Y, eval_batch_size=120, **NAMED).value == value
    assert miestim.estimate_mi(X, Y, eval_batch_size=16, **NAMED).value != pytest.approx(value, abs=1e-6)


def test_seed_fixes_the_result_and_another_seed_changes_it():
    first = miestim.estimate_mi(X, Y, seed=3, **NAMED).value
    assert miestim.estimate_mi(X, Y, seed=3, **NAMED).value == first
    assert miestim.estimate_mi(X, Y, seed=4, **NAMED).value != first


def test_folds_and_families_set_the_cross_fit():
    held_out = [miestim.crossfit.GaussianFamily(bias_corrected=False)]
    r = miestim.estimate_mi(X, Y, folds=4, families=held_out, progress=False)
    assert r.extra["folds"] == 4 and len(r.estimator) == 4 and r.extra["families"] == ["gaussian"] * 4
    assert r.n_test == 600 and r.row_values.shape == (600,)  # every row held out once
    assert miestim.estimate_mi(X, Y, folds=2, families=held_out, progress=False).extra["folds"] == 2
    # The bias-corrected readout fits every row, whatever the folds; the held-out one beside it moves with them.
    corrected = [miestim.estimate_mi(X, Y, folds=k, families=("gaussian",), progress=False) for k in (2, 4)]
    assert corrected[0].value == corrected[1].value and corrected[0].extra["held_out"] != corrected[1].extra["held_out"]


def test_progress_draws_a_bar_only_when_asked(capsys):
    miestim.estimate_mi(X, Y, **{**NAMED, "progress": True})
    assert capsys.readouterr().err
    miestim.estimate_mi(X, Y, **NAMED)
    assert not capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ estimate_cmi
def test_cmi_method_and_readout_choose_what_is_estimated():
    assert miestim.estimate_cmi(CX, CY, CZ, **CHAIN).method == "chain_rule"
    r = miestim.estimate_cmi(CX, CY, CZ, readout="mean_log_ratio", **CMINE)
    assert r.method == "cmine-mean_log_ratio" and r.value == r.extra["mean_log_ratio"]
    assert miestim.estimate_cmi(CX, CY, CZ, readout="nwj", **CMINE).value == r.extra["nwj"]


def test_cmi_split_max_epochs_and_patience():
    assert _sizes(miestim.estimate_cmi(CX, CY, CZ, split=(0.5, 0.25, 0.25), **CMINE)) == (300, 150, 150)
    # 360 training triples (default split) in batches of 90: 4 steps an epoch.
    epochs = miestim.estimate_cmi(CX, CY, CZ, **{**CMINE, "max_steps": None, "max_epochs": 2, "batch_size": 90, "eval_every": 1})
    assert epochs.history.steps[-1] == 8
    stuck = miestim.estimate_cmi(CX, CY, CZ, **{**CMINE, "lr": 1e-12, "patience": 1})
    assert stuck.history.stopped_early and stuck.history.steps == (10, 20)


def test_cmi_k_resample_hidden_and_tau_reach_the_classifier():
    r = miestim.estimate_cmi(CX, CY, CZ, k=3, resample="y", tau=0.4, **CMINE)
    assert r.extra["k"] == 3 and r.extra["resample"] == "y"
    assert _first_linear(r.estimator).out_features == 8 and r.estimator.tau == 0.4
    # tau clips every logit to +-log((1 - tau) / tau): the plug-in readout cannot leave that band.
    assert abs(r.extra["mean_log_ratio"]) <= math.log(0.6 / 0.4) + 1e-6
    assert miestim.estimate_cmi(CX, CY, CZ, resample="x", **CMINE).extra["resample"] == "x"


def test_cmi_folds_and_families_set_the_chain_rule():
    r = miestim.estimate_cmi(CX, CY, CZ, folds=3, **CHAIN)
    assert r.extra["folds"] == 3 and all(f == ["gaussian"] * 3 for f in r.extra["families"].values())


# --------------------------------------------------------------------------------------------------- decompose
def _modalities():
    rng = np.random.default_rng(0)
    t, a, v = rng.normal(size=(3, 800, 1))
    a = a + t
    return {"t": t, "a": a, "v": v}, (t + a + v)[:, 0] + rng.normal(size=800), np.c_[t, a] + 0.5 * rng.normal(size=(800, 2))


def test_decompose_anchor_fused_and_mi_kwargs():
    modalities, target, fused = _modalities()
    d = miestim.decompose(modalities, target, anchor="a", fused=fused, mi_kwargs={"folds": 3}, progress=False)
    assert d.anchor == "a" and "I(a;t)" in d.components and "I(a;v)" in d.components
    assert list(d.fusion) == ["t", "a", "v"] and all(r.extra["folds"] == 3 for r in d.components.values())
    assert miestim.decompose(modalities, target, progress=False).anchor == "t"


def test_decompose_method_estimators_and_cmi_kwargs():
    modalities, target, _ = _modalities()
    tiny = {"max_steps": 20, "eval_every": 10, "hidden": (8,), "k": 2}
    d = miestim.decompose(
        {"t": modalities["t"], "a": modalities["a"]},
        target,
        method="cmi",
        mi_estimator="nwj",
        mi_kwargs={"max_steps": 20, "critic_kwargs": {"hidden": (8,)}},
        cmi_kwargs=tiny,
        progress=False,
    )
    assert d.method == "cmi" and d.components["I(t;a|C)"].extra["k"] == 2
    assert d.components["I(t;a|C)"].method == "cmine-mean_log_ratio" and d.components["I(t;a)"].method == "nwj"


# ---------------------------------------------------------------------------------------------------- validate
def test_validate_n_and_seeds_set_the_samples_the_estimator_sees():
    seen = []
    report = miestim.validate(
        lambda x, y: seen.append((x.shape[0], float(x[0, 0]))) or 0.0, [CorrelatedGaussianTask(1, 0.5)], n=37, seeds=3, progress=False
    )
    assert [r.seed for r in report.rows] == [0, 1, 2] and [rows for rows, _ in seen] == [37] * 3
    assert len({first for _, first in seen}) == 3  # each seed its own sample


def test_validate_estimate_kwargs_reach_the_library_estimator():
    def estimate(max_steps: int) -> float:
        kwargs = {"max_steps": max_steps, "eval_every": 10, "patience": 100, "batch_size": 64, "critic_kwargs": {"hidden": (8,)}}
        return miestim.validate("smile", [CorrelatedGaussianTask(1, 0.5)], n=300, progress=False, estimate_kwargs=kwargs).rows[0].estimate

    assert estimate(10) != estimate(30)
