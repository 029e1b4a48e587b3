"""The trained families where they join the race: the product pairs a joint critic trains on, what the fold-by-fold and
lockstep families hand the training loop, and the screen that drops a family losing to the baseline."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch

import miestim
from miestim.crossfit import FAMILIES, Fold, RaceSettings, fold_splits
from miestim.crossfit import neural as neural_module
from miestim.crossfit import residual as residual_module
from miestim.crossfit.race import SCREEN_EVALUATIONS, _losing
from miestim.defaults import Training
from miestim.functional import sampled_js_objective
from miestim.heldout import js_rows
from miestim.scaling import RankGaussianizer, take_rows


class _PairRecorder:
    """A stand-in critic that records the pairs it scores; a row's score is ``1000 x + y`` (rows are ids)."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def pair_scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls.append((x[:, 0].clone(), y[:, 0].clone()))
        return (1000 * x + y)[:, 0] / 1e4


@pytest.mark.parametrize(("n", "negatives"), [(10, 4), (10, 50), (2, 16)])
def test_joint_loss_scores_each_row_against_distinct_shifted_partners(n: int, negatives: int):
    recorder = _PairRecorder()
    ids = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    before = torch.get_rng_state()
    loss = FAMILIES["joint"](negatives=negatives).loss(SimpleNamespace(critic=recorder), ids, ids, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before), "the shifts are drawn from the generator given"
    (px, py), (jx, jy) = recorder.calls
    assert torch.equal(jx, ids[:, 0]) and torch.equal(jy, ids[:, 0])
    shifts = min(negatives, n - 1)
    offsets = ((py - px) % n).view(shifts, n)  # one block of n product pairs per shift
    assert torch.equal(px.view(shifts, n), ids[:, 0].repeat(shifts, 1))
    assert bool((offsets == offsets[:, :1]).all()), "a shift pairs every row i with row (i + s) mod n"
    drawn = offsets[:, 0].long()
    assert drawn.unique().numel() == shifts and int(drawn.min()) >= 1 and int(drawn.max()) <= n - 1
    expected = -sampled_js_objective((1000 * jx + jy) / 1e4, (1000 * px + py) / 1e4)
    assert torch.allclose(loss, expected)


def _gaussian_folds(n: int = 800) -> list[Fold]:
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=0.5).sample(n, seed=2)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    out = []
    for rows in fold_splits(n, 2, 0.2, generator=torch.Generator().manual_seed(0)):
        sx, sy = RankGaussianizer(x, rows=rows.train), RankGaussianizer(y, rows=rows.train)
        fold = Fold(x, y, rows, sx, sy, take_rows(x, rows.validation, sx), take_rows(y, rows.validation, sy))
        baseline = FAMILIES["gaussian"]().fit(*fold.training_rows(), fold.x_val, fold.y_val)
        base_rows = js_rows(baseline, fold.x_val, fold.y_val, block_size=256)
        out.append(Fold(x, y, rows, sx, sy, fold.x_val, fold.y_val, baseline, base_rows))
    return out


@pytest.mark.parametrize("name", ["joint", "separable"])
def test_the_training_loop_is_handed_the_fold_the_label_and_a_capped_batch(name: str, monkeypatch: pytest.MonkeyPatch):
    calls = []

    def recording_train_module(module, loss_fn, validate_fn, **kwargs):
        calls.append(kwargs)
        assert float(validate_fn(module)) == float(validate_fn(module))  # it scores the fold's validation rows
        return module, miestim.result.TrainingHistory()

    monkeypatch.setattr(neural_module, "train_module", recording_train_module)
    folds = _gaussian_folds()
    family = FAMILIES[name]()
    settings = RaceSettings(training=Training(batch_size=5000, lr=1e-3, max_steps=10, patience=1), progress=True, screen=_losing, label="run[x")
    start = time.perf_counter()
    fitted = family.fit_folds(folds, generator=torch.Generator().manual_seed(0), settings=settings)
    elapsed = time.perf_counter() - start
    assert [c["description"] for c in calls] == [f"run[x: {name}, fold 1/2]", f"run[x: {name}, fold 2/2]"]
    for call, fold in zip(calls, folds):
        assert call["training"].batch_size == family.batch_cap and call["training"].lr == 1e-3
        assert call["n_train"] == fold.rows.train.numel() and call["progress"] is True
        assert call["term"] == "training loss (minus the JS objective)"
    assert all(0 < f.seconds <= elapsed for f in fitted) and sum(f.seconds for f in fitted) <= elapsed


@pytest.mark.parametrize("name", ["joint", "separable", "residual"])
def test_a_family_losing_to_the_baseline_stops_after_the_screening_rounds(name: str):
    """On Gaussian data the Gaussian baseline is exact: no trained critic beats it, so the screen stops each fold."""
    folds = _gaussian_folds()
    training = Training(batch_size=64, lr=1e-3, max_steps=40, patience=100, eval_every=5, eval_batch_size=256)
    fitted = FAMILIES[name]().fit_folds(folds, generator=torch.Generator().manual_seed(0), settings=RaceSettings(training=training, screen=_losing))
    assert [len(f.history.validation) for f in fitted] == [SCREEN_EVALUATIONS] * len(folds)
    unscreened = FAMILIES[name]().fit_folds(folds[:1], generator=torch.Generator().manual_seed(0), settings=RaceSettings(training=training))
    assert len(unscreened[0].history.validation) == 40 // 5


def test_the_joint_family_needs_the_gaussian_baseline():
    fold = _gaussian_folds()[0]
    with pytest.raises(AssertionError, match="the joint family refines the race's Gaussian-copula baseline"):
        FAMILIES["joint"]().build(Fold(fold.x, fold.y, fold.rows, fold.sx, fold.sy, fold.x_val, fold.y_val))


def test_a_familys_repr_names_its_class():
    assert repr(FAMILIES["separable"]()) == "SeparableFamily()" and repr(FAMILIES["joint"](negatives=3)) == "JointFamily(negatives=3)"


def test_the_lockstep_residual_hands_the_training_loop_its_label_and_settings(monkeypatch: pytest.MonkeyPatch):
    calls = []
    train_heads = residual_module.train_heads

    def recording_train_heads(*args, **kwargs):
        calls.append(kwargs)
        return train_heads(*args, **kwargs)

    monkeypatch.setattr(residual_module, "train_heads", recording_train_heads)
    folds = _gaussian_folds()
    training = Training(batch_size=64, lr=1e-3, max_steps=20, patience=1, eval_every=10, eval_batch_size=256)
    start = time.perf_counter()
    fitted = FAMILIES["residual"]().fit_folds(folds, generator=torch.Generator().manual_seed(0), settings=RaceSettings(training, True, None, "run[x"))
    elapsed = time.perf_counter() - start
    (call,) = calls
    assert call["description"] == "run[x: residual, 2 folds]" and call["progress"] is True and call["heads"] == 2
    assert call["term"] == "training loss (minus the JS objective)" and call["training"] == training
    assert all(0 < f.seconds <= elapsed / 2 + 1e-9 for f in fitted)


def test_residual_defaults_and_initialisation():
    assert repr(FAMILIES["residual"]()) == "ResidualFamily(hidden=128, embed_dim=32)"
    anchors = [f.baseline for f in _gaussian_folds()]
    stacked = miestim.crossfit.StackedResidualCritics(anchors)
    assert stacked.params["y_w1"].shape == (2, 1, 128) and stacked.params["y_w2"].shape == (2, 128, 32)
    seeded = miestim.crossfit.StackedResidualCritics(anchors, seed=0)
    assert all(torch.equal(stacked.params[k], seeded.params[k]) for k in stacked.params), "the default seed is 0"
    # nn.Linear's initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); 128 x 32 draws come close to the bound.
    bound = 1 / 128**0.5
    assert bound * 0.95 < float(stacked.params["y_w2"].abs().max()) <= bound
    assert float(stacked.params["x_w2"].abs().max()) == 0.0, "g's last layer starts at zero: each critic starts as its anchor"
