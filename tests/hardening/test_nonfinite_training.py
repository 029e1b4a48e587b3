"""A NaN or Inf in a training loss, a validation score or the held-out estimate stops the fit.

Policy (``miestim.training.train_module``): no step is skipped. A non-finite loss raises
``FloatingPointError`` naming the fit, the term (what the loss is) and the step, before the
optimiser sees it; a non-finite validation score or held-out estimate raises likewise, so a
finite input never yields a NaN result. ``decompose`` adds the quantity being fitted.
The faults are injected by monkeypatching the estimator's forward pass / loss at a given step.
"""

from __future__ import annotations

import pytest
import torch

import miestim
from miestim.cmine import CMINE
from miestim.estimators import SMILE, MIEstimator
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

X, Y = CorrelatedGaussianTask(2, 1.0).sample(300, seed=0)
XC, YC, ZC = GaussianChainTask(1).sample(300, seed=0)
SMILE_OPTIONS = dict(max_steps=30, eval_every=5, batch_size=32, critic_kwargs={"hidden": (16,), "embed_dim": 8}, progress=False)
MI = dict(SMILE_OPTIONS, estimator="smile")
CMI = dict(method="cmine", max_steps=30, eval_every=5, batch_size=32, hidden=(16,), progress=False)


def poison_at(monkeypatch, cls, method, step, value):
    """Make ``cls.method`` return ``value`` (keeping the graph) on its ``step``-th call in training mode."""
    original = getattr(cls, method)
    calls = {"n": 0}

    def patched(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        if self.training:
            calls["n"] += 1
            if calls["n"] == step:
                return out * 0 + value
        return out

    monkeypatch.setattr(cls, method, patched)
    return calls


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "-inf"), (float("-inf"), "inf")])
def test_estimate_mi_stops_at_the_step_whose_loss_is_not_finite(monkeypatch, value, shown):
    calls = poison_at(monkeypatch, MIEstimator, "forward", step=7, value=value)
    match = rf"estimate_mi\[smile\]: the training loss \(minus the smile objective\) became {shown} at step 7 of 30; training stopped \(no step is skipped\)"
    with pytest.raises(FloatingPointError, match=match):
        miestim.estimate_mi(X, Y, **MI)
    assert calls["n"] == 7  # nothing ran after the bad step


def test_estimate_mi_stops_on_a_non_finite_validation_score(monkeypatch):
    original = SMILE.validation_score
    monkeypatch.setattr(SMILE, "validation_score", lambda self, s, y: original(self, s, y) * float("nan"))
    with pytest.raises(FloatingPointError, match=r"estimate_mi\[smile\]: the validation score became nan at step 5 of 30"):
        miestim.estimate_mi(X, Y, **MI)


def test_estimate_mi_never_returns_a_non_finite_estimate(monkeypatch):
    original = SMILE.bound

    def bound(self, scores, y):  # fine while training, NaN in the held-out readout
        out = original(self, scores, y)
        return out if self.training else out * float("nan")

    monkeypatch.setattr(SMILE, "bound", bound)
    with pytest.raises(FloatingPointError, match=r"estimate_mi\[smile\]: the held-out estimate is nan"):
        miestim.estimate_mi(X, Y, **MI)


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_estimate_cmi_stops_at_the_step_whose_loss_is_not_finite(monkeypatch, value, shown):
    calls = poison_at(monkeypatch, CMINE, "loss", step=4, value=value)
    match = rf"estimate_cmi\[cmine\]: the training loss \(the CMINE classifier's cross-entropy\) became {shown} at step 4 of 30"
    with pytest.raises(FloatingPointError, match=match):
        miestim.estimate_cmi(XC, YC, ZC, **CMI)
    assert calls["n"] == 4


def test_decompose_names_the_quantity_whose_fit_failed(monkeypatch):
    poison_at(monkeypatch, MIEstimator, "forward", step=3, value=float("nan"))
    match = r"decompose, while estimating I\(t;a\): estimate_mi\[smile\]: the training loss .* became nan at step 3"
    with pytest.raises(FloatingPointError, match=match):
        miestim.decompose({"t": XC, "a": YC}, ZC, method="chain_rule", mi_estimator="smile", mi_kwargs=SMILE_OPTIONS, progress=False)


def test_weights_are_not_updated_with_the_bad_step(monkeypatch):
    # The check runs before backward(): an instance passed in keeps its last finite weights.
    estimator = SMILE(2, 2, critic_kwargs={"hidden": (16,), "embed_dim": 8})
    snapshots = []
    original = MIEstimator.forward

    def forward(self, x, y):
        snapshots.append([p.detach().clone() for p in self.parameters()])
        out = original(self, x, y)
        return out * float("nan") if len(snapshots) == 3 else out

    monkeypatch.setattr(MIEstimator, "forward", forward)
    with pytest.raises(FloatingPointError, match="became nan at step 3"):
        miestim.estimate_mi(X, Y, estimator=estimator, **{k: v for k, v in SMILE_OPTIONS.items() if k != "critic_kwargs"})
    assert all(torch.isfinite(p).all() for p in estimator.parameters())
    assert all(torch.equal(a, b) for a, b in zip(snapshots[2], estimator.parameters()))
