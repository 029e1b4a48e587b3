"""The residual family: its critics of all folds trained in lockstep, exact unstacking, independent folds, per-fold early stopping."""

from __future__ import annotations

import itertools

import pytest
import torch

import miestim
from miestim.critics import GaussianCopulaCritic
from miestim.crossfit import StackedResidualCritics
from miestim.defaults import Training
from miestim.functional import js_objective
from miestim.training import train_heads


def stacked_js_loss(scores: torch.Tensor) -> torch.Tensor:
    return -js_objective(scores, batched=True)


def _anchors(folds: int, n: int = 400) -> tuple[list[GaussianCopulaCritic], torch.Tensor, torch.Tensor]:
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=3, mi=1.0).sample(n * folds, seed=0)
    xs = torch.as_tensor(x, dtype=torch.float32).view(folds, n, 3)
    ys = torch.as_tensor(y, dtype=torch.float32).view(folds, n, 3)
    return [GaussianCopulaCritic.fit(xs[k], ys[k]) for k in range(folds)], xs, ys


def _perturbed(stacked: StackedResidualCritics) -> StackedResidualCritics:
    # Training moves the zero-initialised last layer; give it values so the residual is not zero.
    with torch.no_grad():
        for p in stacked.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    return stacked


def test_stacked_critics_start_as_their_anchors():
    anchors, xs, ys = _anchors(3)
    scores = StackedResidualCritics(anchors, seed=1)(xs[:, :16], ys[:, :16])
    for k, anchor in enumerate(anchors):
        assert torch.allclose(scores[k], anchor(xs[k, :16], ys[k, :16]), atol=1e-5)


def test_fold_critic_scores_exactly_what_its_slice_of_the_stack_scores():
    anchors, xs, ys = _anchors(3)
    stacked = _perturbed(StackedResidualCritics(anchors, hidden=16, embed_dim=8, seed=1))
    scores = stacked(xs[:, :20], ys[:, :20])
    assert scores.shape == (3, 20, 20)
    for k in range(3):
        critic = stacked.fold_critic(k)
        assert torch.allclose(critic(xs[k, :20], ys[k, :20]), scores[k], atol=1e-5)
        assert torch.allclose(critic.pair_scores(xs[k, :20], ys[k, :20]), scores[k].diagonal(), atol=1e-5)


def test_the_batched_js_objective_is_each_folds_js_objective():
    scores = torch.randn(4, 9, 9, generator=torch.Generator().manual_seed(0)) * 3
    expected = torch.stack([-js_objective(s) for s in scores])
    assert torch.allclose(stacked_js_loss(scores), expected, atol=1e-6)


def test_one_folds_loss_moves_only_that_folds_weights():
    anchors, xs, ys = _anchors(3)
    stacked = _perturbed(StackedResidualCritics(anchors, hidden=16, embed_dim=8, seed=1))
    stacked_js_loss(stacked(xs[:, :32], ys[:, :32]))[1].backward()
    for name, p in stacked.params.items():
        assert p.grad is not None and p.grad[1].abs().sum() > 0, name
        assert p.grad[0].abs().sum() == 0 and p.grad[2].abs().sum() == 0, name


def _train(validate, *, batch=None, drop=None, **options):
    """train_heads on two folds of small stacked critics: random batches of 64 unless ``batch`` is given."""
    anchors, xs, ys = _anchors(2)
    if batch is None:
        generator = torch.Generator().manual_seed(0)

        def batch():
            idx = torch.randperm(xs.shape[1], generator=generator)[:64]
            return xs[:, idx], ys[:, idx]

    def batches():
        while True:
            yield batch()

    loop = {"lr": 1e-3, "eval_every": 10, "patience": 5, **{k: options.pop(k) for k in ("max_steps", "eval_every", "patience") if k in options}}
    settings = {"progress": False, "description": "test", "training": Training(batch_size=64, **loop), **options}
    stacked = StackedResidualCritics(anchors, hidden=8, embed_dim=4, seed=0)
    return train_heads(
        stacked,
        lambda b: stacked_js_loss(stacked(*b)),
        lambda averaged, k: validate(k, averaged.fold_critic(k)),
        lambda averaged, k: averaged.fold_critic(k),
        batches=batches(),
        heads=2,
        stop_if=drop,
        **settings,
    )


def test_each_fold_stops_on_its_own_validation_score():
    calls: dict[int, int] = {0: 0, 1: 0}

    def validate(k: int, critic) -> float:
        calls[k] += 1
        # Fold 0 improves for ever; fold 1 never does after its first round, so stops after `patience` more.
        return float(calls[k]) if k == 0 else 0.0

    critics, histories = _train(validate, max_steps=100, patience=2)
    assert len(critics) == 2
    assert histories[0].steps == tuple(range(10, 101, 10)) and not histories[0].stopped_early
    assert histories[1].steps == (10, 20, 30) and histories[1].stopped_early


def test_a_dropped_fold_stops_and_training_ends_when_every_fold_has():
    counter = itertools.count()
    _, histories = _train(lambda k, critic: float(next(counter)), max_steps=1000, drop=lambda k, evaluations: evaluations == 2)
    assert [h.steps for h in histories] == [(10, 20), (10, 20)]


def test_a_non_finite_loss_raises_naming_the_step():
    _, xs, ys = _anchors(2)
    bad = xs.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="at step 1 of 5"):
        _train(lambda k, critic: 0.0, batch=lambda: (bad[:, :32], ys[:, :32]), max_steps=5, eval_every=1)


def test_initialisation_is_seeded_and_leaves_the_global_rng_alone():
    anchors, _, _ = _anchors(2)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = StackedResidualCritics(anchors, seed=5), StackedResidualCritics(anchors, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.params["y_w1"], StackedResidualCritics(anchors, seed=6).params["y_w1"])


def test_the_lockstep_progress_bar_is_drawn_on_rank_0_only(monkeypatch, capsys):
    # The lockstep training goes through the one training loop, so it keeps its rank-0 check.
    monkeypatch.setattr(miestim.training, "is_main_process", lambda: False)
    _train(lambda k, critic: 0.0, max_steps=20, progress=True)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(miestim.training, "is_main_process", lambda: True)
    _train(lambda k, critic: 0.0, max_steps=20, progress=True)
    assert "test" in capsys.readouterr().err
