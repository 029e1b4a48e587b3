"""The fit/evaluate machinery shared by the one-call estimators: splits, standardisation, the training loop."""

from __future__ import annotations

import contextlib
import copy
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn
from tqdm.auto import tqdm

from ._reduction import column_sum
from ._validation import check_positive_int, check_split, did_you_mean, warn_shrunk_batch
from .distributed import average_gradients, broadcast_module, broadcast_values, is_main_process
from .result import TrainingHistory

__all__ = [
    "SCALERS",
    "RankGaussianizer",
    "Split",
    "Standardizer",
    "check_finite_estimate",
    "combine_batches",
    "eval_batches",
    "jackknife_bound",
    "random_split",
    "resolve_scaler",
    "seeded_init",
    "take_rows",
    "train_module",
]


@dataclass(frozen=True)
class Split:
    """Disjoint index sets of a train / validation / test split."""

    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor


def random_split(n: int, fractions: tuple[float, ...], *, generator: torch.Generator, min_test: int = 2) -> Split:
    """Randomly split ``range(n)`` into train / validation / test by ``fractions``."""
    fractions = check_split(fractions)
    n_val = round(n * fractions[1])
    n_test = round(n * fractions[2])
    n_train = n - n_val - n_test
    if min(n_train, n_val) < 2 or n_test < min_test:
        raise ValueError(
            f"{n} samples are too few for the split {fractions}: it gives {n_train} train, {n_val} validation and "
            f"{n_test} test samples (need at least 2, 2 and {min_test}). Provide more samples."
        )
    order = torch.randperm(n, generator=generator)
    return Split(order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :])


# Elements per block when fitting or applying a scaler: bounds the temporaries (float64 sums,
# int64 ranks) to a few tens of MiB however many samples there are.
_SCALE_BLOCK = 2**20


def _row_blocks(data: torch.Tensor, rows: torch.Tensor | None) -> Iterator[torch.Tensor]:
    """``data[rows]`` (or all of ``data``) in consecutive blocks of rows, never as one full copy."""
    n = data.shape[0] if rows is None else rows.shape[0]
    step = max(1, _SCALE_BLOCK // max(1, data.shape[1]))
    for start in range(0, n, step):
        yield data[start : start + step] if rows is None else data[rows[start : start + step].to(data.device)]


class Standardizer:
    """Per-column z-scoring with statistics fitted on the training split only (no test leakage).

    Args:
        train: ``(n, d)`` samples; with ``rows`` the full data set, of which only
            ``train[rows]`` is used (read in blocks, so no copy of the split is made).
        rows: optional ``(n_train,)`` row indices of the training split.
    """

    def __init__(self, train: torch.Tensor, *, rows: torch.Tensor | None = None) -> None:
        n = train.shape[0] if rows is None else rows.shape[0]
        # Two passes in float64: exact enough for any float32 data, and no full-size temporary.
        total = torch.as_tensor(sum(column_sum(block.to(torch.float64)) for block in _row_blocks(train, rows)))
        mean = total / n
        squares = torch.as_tensor(sum(column_sum((block.to(torch.float64) - mean) ** 2) for block in _row_blocks(train, rows)))
        std = (squares / max(n - 1, 1)).sqrt()
        self.mean_ = mean.to(train.dtype)
        # A column constant on the training split (but not overall) gets scale 1 instead of a division by 0.
        self.scale_ = torch.where(std > 0, std, torch.ones_like(std)).to(train.dtype)

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        return (data - self.mean_) / self.scale_


class RankGaussianizer:
    r"""Per-column normal scores :math:`\Phi^{-1}(\hat F(v))` with the empirical CDF of the training split.

    A strictly increasing map of each column leaves mutual information unchanged, and this
    one makes every marginal close to :math:`N(0, 1)`, which removes heavy tails (a cubed
    Gaussian spans ±15 standard deviations after z-scoring) before a critic sees them. Ties
    get their mid-rank; values outside the training range get the extreme training scores.

    The fitted state is the sorted training columns, ``(d, n_train)`` in the data's dtype;
    fitting reads the split in blocks and sorts a few columns at a time, so it needs no
    other full-size temporary.

    Args:
        train: ``(n, d)`` samples; with ``rows`` the full data set, of which only
            ``train[rows]`` is used.
        rows: optional ``(n_train,)`` row indices of the training split.
    """

    def __init__(self, train: torch.Tensor, *, rows: torch.Tensor | None = None) -> None:
        n = train.shape[0] if rows is None else rows.shape[0]
        d = train.shape[1]
        columns = torch.empty((d, n), dtype=train.dtype, device=train.device)
        start = 0
        for block in _row_blocks(train, rows):
            columns[:, start : start + block.shape[0]] = block.T
            start += block.shape[0]
        step = max(1, _SCALE_BLOCK // max(1, n))  # columns per sort: bounds the int64 indices torch.sort returns
        for c in range(0, d, step):
            columns[c : c + step] = columns[c : c + step].sort(dim=1).values
        self.sorted_ = columns

    def __call__(self, data: torch.Tensor) -> torch.Tensor:
        n = self.sorted_.shape[1]
        query = data.T.contiguous()
        below = torch.searchsorted(self.sorted_, query, side="left")
        not_above = torch.searchsorted(self.sorted_, query, side="right")
        u = ((below + not_above).to(data.dtype) / 2).clamp(0.5, n - 0.5) / n
        return torch.special.ndtri(u).T


#: Input scalings of the one-call estimators, by name.
SCALERS: dict[str, type[Standardizer | RankGaussianizer]] = {"zscore": Standardizer, "rank": RankGaussianizer}


def resolve_scaler(standardize: bool | str) -> type[Standardizer | RankGaussianizer] | None:
    """The scaler class for ``standardize`` (``True`` means ``"zscore"``, ``False`` none)."""
    if isinstance(standardize, bool):
        return Standardizer if standardize else None
    expected = "standardize must be True, False, 'zscore' or 'rank'"
    if not isinstance(standardize, str):
        raise TypeError(f"{expected}; got {standardize!r} ({type(standardize).__name__}).")
    if standardize.lower() not in SCALERS:
        raise ValueError(f"{expected}; got {standardize!r}.{did_you_mean(standardize, SCALERS)}")
    return SCALERS[standardize.lower()]


Scaler = Standardizer | RankGaussianizer


def take_rows(data: torch.Tensor, rows: torch.Tensor, scaler: Scaler | None = None) -> torch.Tensor:
    """``scaler(data[rows])`` (or ``data[rows]``), computed block by block into one new tensor.

    For a training batch this is one gather and one transform; for a whole split it bounds
    the scaler's temporaries to a block. ``data`` itself (possibly a read-only memory map)
    is only read.
    """
    if scaler is None:
        return data[rows.to(data.device)]
    out = torch.empty((rows.shape[0], data.shape[1]), dtype=data.dtype, device=data.device)
    start = 0
    for block in _row_blocks(data, rows):
        out[start : start + block.shape[0]] = scaler(block)
        start += block.shape[0]
    return out


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


def jackknife_bound(
    bound: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], scores: torch.Tensor, context: torch.Tensor, *, groups: int
) -> tuple[float, float]:
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


#: The module type ``train_module`` trains and returns, so callers keep their estimator's own type.
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def train_module(
    module: ModuleT,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    validate_fn: Callable[[ModuleT], float],
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
    term: str = "training loss",
    distributed: bool = False,
    stop_if: Callable[[int], bool] | None = None,
) -> tuple[ModuleT, TrainingHistory]:
    """Train ``module`` with Adam on ``loss_fn(batch_idx)``, early-stopping on ``validate_fn`` (higher is better).

    With ``average_decay`` the returned module is an exponential moving average of the
    trained weights (Polyak averaging), which removes most of the step-to-step noise of the
    critic from the estimate; validation uses the same averaged module. Training stops
    after ``max_steps`` or once the validation estimate has not improved for ``patience``
    consecutive evaluations, and the module is returned in its state at the best
    validation estimate (early stopping). The choice uses the validation split only, so a
    later estimate on a test split stays unbiased by it.

    Non-finite values stop training; no step is skipped. A NaN or infinite loss raises
    ``FloatingPointError`` naming the step and ``term`` (what the loss is, e.g. "training
    loss (minus the smile objective)") before the optimiser sees it, so the weights are
    never updated with it; a non-finite validation score raises likewise, naming the step.

    With ``distributed`` (a ``torch.distributed`` run; every rank calls this with the same
    ``generator`` state, so all draw the same batch indices) rank 0's weights are copied to
    every rank first, ``loss_fn`` returns the rank's share of the loss — the mean over the
    ranks of the shares must be the loss of the global batch —, and after each backward
    pass the gradients and the loss are averaged over the ranks in one all-reduce, so every
    rank takes the same step. The validation score is rank 0's (so that every rank stops at
    the same step) and the progress bar is shown on rank 0 only.

    ``stop_if(evaluations)``, if given, is asked after each validation (with how many there
    have been) and stops training when it returns true: a caller racing several critics
    drops a losing one early.
    """
    check_positive_int(max_steps, name="max_steps")
    check_positive_int(eval_every, name="eval_every")
    check_positive_int(patience, name="patience")
    batch_size = warn_shrunk_batch(check_positive_int(batch_size, name="batch_size", minimum=2), n_train)
    if progress is None:
        progress = sys.stderr.isatty()
    progress = progress and is_main_process()
    if distributed:
        broadcast_module(module)
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
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # Averaged before the check, so that every rank of a distributed run raises at the same step.
            value = average_gradients(module.parameters(), loss=loss) if distributed else loss.detach()
            if not bool(torch.isfinite(value)):
                raise FloatingPointError(
                    f"{description}: the {term} became {float(value)} at step {step} of {max_steps}; training "
                    "stopped (no step is skipped). Lower lr, check the inputs, or use a bounded estimator such as 'smile'."
                )
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
            optimizer.step()
            if average_decay is not None:
                _update_average(averaged, module, average_decay)
            running += float(value)
            count += 1
            bar.update(1)
            if step % eval_every == 0 or step == max_steps:
                averaged.eval()
                with torch.no_grad():
                    val = validate_fn(averaged)
                if distributed:
                    (val,) = broadcast_values([val])
                if not math.isfinite(val):
                    raise FloatingPointError(
                        f"{description}: the validation score became {val} at step {step} of {max_steps}; training "
                        "stopped. Lower lr or check the inputs."
                    )
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
                if since_best >= patience or (stop_if is not None and stop_if(len(steps))):
                    stopped_early = True
                    break
    # The caller's module (not the shadow copy) carries the result, so an instance passed in gets trained.
    module.load_state_dict(best_state)
    module.eval()
    return module, TrainingHistory(tuple(steps), tuple(train_trace), tuple(val_trace), stopped_early)


def check_finite_estimate(value: float, *, description: str) -> float:
    """Refuse to return a non-finite held-out estimate (finite inputs must never give NaN)."""
    if not math.isfinite(value):
        raise FloatingPointError(
            f"{description}: the held-out estimate is {value}; the trained critic's scores overflowed. "
            "Lower lr, standardise the inputs, or use a bounded estimator such as 'smile'."
        )
    return value


@torch.no_grad()
def _update_average(averaged: nn.Module, module: nn.Module, decay: float) -> None:
    for avg, new in zip(averaged.parameters(), module.parameters()):
        avg.lerp_(new, 1.0 - decay)
    for avg_buffer, new_buffer in zip(averaged.buffers(), module.buffers()):
        avg_buffer.copy_(new_buffer)
