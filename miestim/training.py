"""The fit/evaluate machinery shared by the one-call estimators: splits, standardisation, the training loop."""

from __future__ import annotations

import contextlib
import copy
import math
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn
from tqdm.auto import tqdm

from ._validation import check_fraction, check_positive_int, warn_shrunk_batch
from .result import TrainingHistory

__all__ = ["SCALERS", "RankGaussianizer", "Split", "Standardizer", "combine_batches", "eval_batches", "jackknife_bound", "random_split", "resolve_scaler", "seeded_init", "train_module"]


@dataclass(frozen=True)
class Split:
    """Disjoint index sets of a train / validation / test split."""

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor


def random_split(n: int, fractions: tuple[float, float, float], *, generator: torch.Generator, min_test: int = 2) -> Split:
    """Randomly split ``range(n)`` into train / validation / test by ``fractions``."""
    fractions = check_fraction(fractions, name="split")
    if len(fractions) != 3:
        raise ValueError(f"split must have 3 fractions (train, validation, test); got {len(fractions)}.")
    n_val = int(round(n * fractions[1]))
    n_test = int(round(n * fractions[2]))
    n_train = n - n_val - n_test
    if min(n_train, n_val) < 2 or n_test < min_test:
        raise ValueError(
            f"{n} samples are too few for the split {fractions}: it gives {n_train} train, {n_val} validation and "
            f"{n_test} test samples (need at least 2, 2 and {min_test}). Provide more samples."
        )
    order = torch.randperm(n, generator=generator)
    return Split(order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])


class Standardizer:
    """Per-column z-scoring with statistics fitted on the training split only (no test leakage)."""

    def __init__(self, train: torch.Tensor) -> None:
        self.mean_ = train.mean(dim=0)
        # A column constant on the training split (but not overall) gets scale 1 instead of a division by 0.
        std = train.std(dim=0)
        self.scale_ = torch.where(std > 0, std, torch.ones_like(std))

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        return (data - self.mean_) / self.scale_


class RankGaussianizer:
    r"""Per-column normal scores :math:`\Phi^{-1}(\hat F(v))` with the empirical CDF of the training split.

    A strictly increasing map of each column leaves mutual information unchanged, and this
    one makes every marginal close to :math:`N(0, 1)`, which removes heavy tails (a cubed
    Gaussian spans ±15 standard deviations after z-scoring) before a critic sees them. Ties
    get their mid-rank; values outside the training range get the extreme training scores.
    """

    def __init__(self, train: torch.Tensor) -> None:
        self.sorted_ = train.sort(dim=0).values.T.contiguous()

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        n = self.sorted_.shape[1]
        query = data.T.contiguous()
        below = torch.searchsorted(self.sorted_, query, side="left")
        not_above = torch.searchsorted(self.sorted_, query, side="right")
        u = ((below + not_above).to(data.dtype) / 2).clamp(0.5, n - 0.5) / n
        return torch.special.ndtri(u).T


#: Input scalings of the one-call estimators, by name.
SCALERS = {"zscore": Standardizer, "rank": RankGaussianizer}


def resolve_scaler(standardize: bool | str) -> type[Standardizer] | type[RankGaussianizer] | None:
    """The scaler class for ``standardize`` (``True`` means ``"zscore"``, ``False`` none)."""
    if isinstance(standardize, bool):
        return Standardizer if standardize else None
    if isinstance(standardize, str) and standardize in SCALERS:
        return SCALERS[standardize]
    raise ValueError(f"standardize must be True, False, 'zscore' or 'rank'; got {standardize!r}.")


@contextlib.contextmanager
def seeded_init(seed: int, device: torch.device) -> Iterator[None]:
    """Seed parameter initialisation without touching the caller's global RNG state."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def minibatches(n: int, batch_size: int, *, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless stream of index batches: reshuffled epochs, each batch without replacement."""
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def jackknife_bound(bound: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scores: torch.Tensor, context: torch.Tensor, *, groups: int) -> tuple[float, float]:
    r"""A bound on one held-out score matrix and its delete-a-group jackknife standard error.

    The ``n`` samples are cut into ``G`` contiguous groups; :math:`\hat\theta_{(g)}` is the
    bound recomputed without group ``g`` (rows and columns), and

    .. math::  \widehat{\mathrm{se}}^2 = \frac{G-1}{G}\sum_g \big(\hat\theta_{(g)} - \bar\theta\big)^2

    The score matrix is computed once; only the bound is re-evaluated.
    """
    n = scores.shape[0]
    value = float(bound(scores, context))
    if groups == 0:
        return value, float("nan")
    groups = min(groups, n // 2)
    replicates = []
    for members in torch.arange(n, device=scores.device).tensor_split(groups):
        keep = torch.ones(n, dtype=torch.bool, device=scores.device)
        keep[members] = False
        replicates.append(float(bound(scores[keep][:, keep], context[keep])))
    t = torch.tensor(replicates, dtype=torch.float64)
    return value, float(((groups - 1) / groups * ((t - t.mean()) ** 2).sum()).sqrt())


def eval_batches(n: int, batch_size: int) -> list[torch.Tensor]:
    """Disjoint, contiguous held-out batches covering ``range(n)``, sizes differing by at most 1."""
    return list(torch.arange(n).tensor_split(max(1, -(-n // batch_size))))


def combine_batches(estimates: list[tuple[float, float]], sizes: list[int]) -> tuple[float, float]:
    """Size-weighted mean of independent per-batch estimates and the standard error of that mean."""
    w = torch.tensor(sizes, dtype=torch.float64) / sum(sizes)
    values = torch.tensor([v for v, _ in estimates], dtype=torch.float64)
    errors = torch.tensor([e for _, e in estimates], dtype=torch.float64)
    return float((w * values).sum()), float(((w * errors) ** 2).sum().sqrt())


def train_module(
    module: nn.Module,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    validate_fn: Callable[[nn.Module], float],
    *,
    n_train: int,
    batch_size: int,
    lr: float,
    max_steps: int,
    eval_every: int,
    patience: int,
    generator: torch.Generator,
    progress: bool | None,
    description: str,
    grad_clip: float | None = None,
    average_decay: float | None = 0.99,
) -> tuple[nn.Module, TrainingHistory]:
    """Train ``module`` with Adam on ``loss_fn(batch_idx)``, early-stopping on ``validate_fn`` (higher is better).

    With ``average_decay`` the returned module is an exponential moving average of the
    trained weights (Polyak averaging), which removes most of the step-to-step noise of the
    critic from the estimate; validation uses the same averaged module. Training stops
    after ``max_steps`` or once the validation estimate has not improved for ``patience``
    consecutive evaluations, and the module is returned in its state at the best
    validation estimate (early stopping). The choice uses the validation split only, so a
    later estimate on a test split stays unbiased by it.

    A non-finite loss stops training with a ``FloatingPointError`` naming the step.
    """
    check_positive_int(max_steps, name="max_steps")
    check_positive_int(eval_every, name="eval_every")
    check_positive_int(patience, name="patience")
    batch_size = warn_shrunk_batch(check_positive_int(batch_size, name="batch_size", minimum=2), n_train)
    if progress is None:
        progress = sys.stderr.isatty()
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    steps, train_trace, val_trace = [], [], []
    best, since_best, running, count = -math.inf, 0, 0.0, 0
    best_state = copy.deepcopy(module.state_dict())
    stopped_early = False
    batches = minibatches(n_train, batch_size, generator=generator)
    averaged = copy.deepcopy(module) if average_decay is not None else module
    module.train()
    with tqdm(total=max_steps, desc=description, disable=not progress, leave=False) as bar:
        for step in range(1, max_steps + 1):
            loss = loss_fn(next(batches))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{description}: the training loss became {float(loss)} at step {step}; lower lr or check the inputs."
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
            optimizer.step()
            if average_decay is not None:
                _update_average(averaged, module, average_decay)
            running += float(loss.detach())
            count += 1
            bar.update(1)
            if step % eval_every == 0 or step == max_steps:
                averaged.eval()
                with torch.no_grad():
                    val = validate_fn(averaged)
                module.train()
                steps.append(step)
                train_trace.append(-running / count)
                val_trace.append(val)
                running, count = 0.0, 0
                bar.set_postfix(validation=f"{val:.3f}")
                if val > best:
                    best, since_best = val, 0
                    best_state = copy.deepcopy(averaged.state_dict())
                else:
                    since_best += 1
                    if since_best >= patience:
                        stopped_early = True
                        break
    # The caller's module (not the shadow copy) carries the result, so an instance passed in gets trained.
    module.load_state_dict(best_state)
    module.eval()
    return module, TrainingHistory(tuple(steps), tuple(train_trace), tuple(val_trace), stopped_early)


@torch.no_grad()
def _update_average(averaged: nn.Module, module: nn.Module, decay: float) -> None:
    for avg, new in zip(averaged.parameters(), module.parameters()):
        avg.lerp_(new, 1.0 - decay)
    for avg, new in zip(averaged.buffers(), module.buffers()):
        avg.copy_(new)
