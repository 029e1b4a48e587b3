"""A named estimator's fit on one train / validation / test split: ``estimate_mi(estimator="smile")`` and the like."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from ._validation import child_seed
from .critics import Critic
from .defaults import Training
from .distributed import broadcast_values, rank_slice
from .entry._common import resolve_steps
from .estimators import MIEstimator, make_estimator
from .heldout import combine_batches, eval_batches, jackknife
from .result import EstimateResult
from .scaling import Scaler, take_rows
from .training import check_finite_estimate, random_split, seeded_init, train_module

__all__ = ["fit_named", "held_out_mi"]


def held_out_mi(
    module: MIEstimator, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, groups: int = 20, validation: bool = False
) -> tuple[float, float]:
    """The estimator's bound on held-out ``(x, y)`` in nats, and its standard error.

    Each batch of up to ``batch_size`` samples is scored once (all pairs within the batch);
    the standard error is the delete-a-group jackknife over ``groups`` groups per batch
    (``groups=0`` skips it and reports ``nan``). With ``validation`` the estimator's
    :meth:`~miestim.MIEstimator.validation_score` is used instead of its readout.
    """
    module.eval()
    bound = module.validation_score if validation else module.bound
    batches = eval_batches(x.shape[0], batch_size)
    with torch.no_grad():
        estimates = [_jackknife_bound(bound, module.critic(x[idx], y[idx]), y[idx], groups=groups) for idx in batches]
    return combine_batches(estimates, [len(idx) for idx in batches])


def _jackknife_bound(
    bound: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scores: torch.Tensor, context: torch.Tensor, *, groups: int
) -> tuple[float, float]:
    """A bound on one held-out score matrix and its :func:`~miestim.heldout.jackknife` standard error (a group left out: its rows and columns)."""

    def statistic(keep: torch.Tensor | None) -> float:
        return float(bound(scores, context) if keep is None else bound(scores[keep][:, keep], context[keep]))

    return jackknife(statistic, scores.shape[0], groups=groups, device=scores.device)


def _build(
    estimator: str | MIEstimator,
    x_dim: int,
    y_dim: int,
    critic: str | Critic | None,
    critic_kwargs: dict[str, Any],
    estimator_kwargs: dict[str, Any],
    *,
    init_seed: int,
    device: torch.device,
    distributed: bool,
) -> MIEstimator:
    """The estimator module, initialised from ``init_seed`` (a named one with a separable critic unless told otherwise)."""
    if isinstance(estimator, str) and not distributed:
        estimator_kwargs.setdefault("global_batch", False)
    named = {"critic": "separable" if critic is None else critic, "critic_kwargs": critic_kwargs} if isinstance(estimator, str) else {}
    if set(named) & set(estimator_kwargs):
        raise ValueError(
            f"estimator_kwargs must not hold {sorted(set(named) & set(estimator_kwargs))}: pass them as estimate_mi's critic= and critic_kwargs=."
        )
    with seeded_init(init_seed, device):
        module = make_estimator(estimator, x_dim, y_dim, **named, **estimator_kwargs).to(device)
    if not distributed and module.scores_global_batch:
        raise ValueError(
            "distributed=False, but the estimator instance gathers the global batch of the process group; "
            "build it with global_batch=False, or pass distributed=None."
        )
    return module


def fit_named(
    x_t: torch.Tensor,
    y_t: torch.Tensor,
    *,
    estimator: str | MIEstimator,
    critic: str | Critic | None,
    critic_kwargs: dict[str, Any],
    estimator_kwargs: dict[str, Any],
    training: Training,
    max_steps: int | None,
    max_epochs: int | None,
    split: tuple[float, float, float],
    scaler: type[Scaler] | None,
    generator: torch.Generator,
    progress: bool | None,
    distributed: bool,
    start: float,
) -> EstimateResult:
    """Train ``estimator`` on the training split, early-stopped on the validation split; its bound on the test split.

    The data are never copied whole: the scalers are fitted on the training rows in place,
    training batches are gathered (and scaled) from ``x_t`` / ``y_t`` step by step, and only the
    validation and test splits are materialised, scaled.
    """
    dev = x_t.device
    init_seed = child_seed(generator)

    split_idx = random_split(x_t.shape[0], split, generator=generator, min_test=4)
    n_train = split_idx.train.shape[0]
    steps = resolve_steps(max_steps, max_epochs, n_train, training.batch_size, default=training.max_steps)
    module = _build(
        estimator, x_t.shape[1], y_t.shape[1], critic, critic_kwargs, estimator_kwargs, init_seed=init_seed, device=dev, distributed=distributed
    )

    sx = scaler(x_t, rows=split_idx.train) if scaler is not None else None
    sy = scaler(y_t, rows=split_idx.train) if scaler is not None else None
    x_val, y_val = take_rows(x_t, split_idx.validation, sx), take_rows(y_t, split_idx.validation, sy)
    x_test, y_test = take_rows(x_t, split_idx.test, sx), take_rows(y_t, split_idx.test, sy)

    def loss(idx: torch.Tensor) -> torch.Tensor:
        # A gathering estimator gets this rank's share of the global batch and returns the global
        # bound (the same on every rank); otherwise every rank computes the whole batch.
        rows = split_idx.train[idx[rank_slice(len(idx))] if module.scores_global_batch else idx]
        return -module(take_rows(x_t, rows, sx), take_rows(y_t, rows, sy))

    def validate(trained: MIEstimator) -> float:
        return held_out_mi(trained, x_val, y_val, batch_size=training.eval_batch_size, groups=0, validation=True)[0]

    module, history = train_module(
        module,
        loss,
        validate,
        n_train=n_train,
        training=replace(training, max_steps=steps),
        generator=generator,
        progress=progress,
        description=f"estimate_mi[{module.name}]",
        term=f"training loss (minus the {module.name} objective)",
        distributed=distributed,
    )
    value, stderr = held_out_mi(module, x_test, y_test, batch_size=training.eval_batch_size)
    if distributed:
        value, stderr = broadcast_values([value, stderr])
    check_finite_estimate(value, description=f"estimate_mi[{module.name}]")
    return EstimateResult(
        value=value,
        stderr=stderr,
        history=history,
        estimator=module,
        seconds=time.perf_counter() - start,
        quantity="I(X;Y)",
        method=module.name,
        n_train=n_train,
        n_validation=x_val.shape[0],
        n_test=x_test.shape[0],
    )
