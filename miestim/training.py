"""The fit machinery shared by every trained critic: the split record, batches, seeding and the one training loop."""

from __future__ import annotations

import contextlib
import copy
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn
from tqdm.auto import tqdm

from ._validation import check_positive_int, check_split, warn_shrunk_batch
from .defaults import Training
from .distributed import average_gradients, broadcast_module, broadcast_values, is_main_process
from .result import TrainingHistory

__all__ = ["Split", "check_finite_estimate", "minibatches", "random_split", "seeded_init", "train_heads", "train_module"]


@dataclass(frozen=True)
class Split:
    """Disjoint row indices: ``train`` rows to fit on, ``validation`` rows to stop and choose on, ``test`` rows held out.

    The one split record: the single split of a named estimator (:func:`random_split`) and each
    fold of a cross-fit (:func:`miestim.crossfit.fold_splits`: the fold's held-out rows and the
    training / validation rows of the rest).
    """

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


@dataclass
class _Head:
    """One early-stopped head of :func:`train_heads`: its best validation score, what it kept there, and its trace."""

    best: float = -math.inf
    since_best: int = 0
    active: bool = True
    kept: Any = None
    steps: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)

    def record(self, step: int, train: float, score: float, *, patience: int, stop: bool) -> bool:
        """Add an evaluation; whether it is the best so far (the caller then keeps a snapshot)."""
        self.steps.append(step)
        self.train.append(train)
        self.validation.append(score)
        improved = score > self.best
        self.best, self.since_best = (score, 0) if improved else (self.best, self.since_best + 1)
        if self.since_best >= patience or stop:
            self.active = False
        return improved

    def history(self) -> TrainingHistory:
        return TrainingHistory(tuple(self.steps), tuple(self.train), tuple(self.validation), not self.active)


def _check_finite(value: float, *, description: str, what: str, step: int, max_steps: int) -> None:
    if not math.isfinite(value):
        raise FloatingPointError(
            f"{description}: {what} became {value} at step {step} of {max_steps}; training stopped (no step is skipped). "
            "Lower lr, check the inputs, or use a bounded estimator such as 'smile'."
        )


#: What a head keeps at its best validation score (``train_heads``' ``snapshot``).
KeptT = TypeVar("KeptT")


def train_heads(
    module: nn.Module,
    loss_fn: Callable[[Any], torch.Tensor],
    validate_fn: Callable[[nn.Module, int], float],
    snapshot: Callable[[nn.Module, int], KeptT],
    *,
    batches: Iterator[Any],
    heads: int,
    training: Training,
    progress: bool | None,
    description: str,
    term: str = "training loss",
    grad_clip: float | None = None,
    average_decay: float | None = 0.99,
    distributed: bool = False,
    stop_if: Callable[[int, int], bool] | None = None,
) -> tuple[list[KeptT], list[TrainingHistory]]:
    """The training loop: Adam on ``loss_fn(next(batches))``, each of ``heads`` heads early-stopped on its own validation score.

    ``loss_fn`` returns the loss (to minimise) of each head, shape ``(heads,)`` (or a scalar for
    one head); the step is taken on their sum, so heads that share no parameter (the folds of
    :class:`~miestim.crossfit.residual.StackedResidualCritics`) train independently in one step.
    ``training`` gives Adam's ``lr`` and ``max_steps``, ``eval_every`` and ``patience`` (its batch
    sizes are the caller's: ``batches`` yields the batches).
    With ``average_decay`` the weights are averaged over steps (Polyak), and validation uses the
    averaged module. Every ``eval_every`` steps (and at ``max_steps``) each active head ``k`` is
    scored, ``validate_fn(averaged, k)`` (higher is better); at a new best ``snapshot(averaged, k)``
    is kept. A head stops once its score has not improved for ``patience`` evaluations or
    ``stop_if(k, evaluations)`` is true (a race already lost); training ends when every head
    has stopped or after ``max_steps``. Returns each head's kept snapshot and trace.

    Non-finite values stop training; no step is skipped. A NaN or infinite loss raises
    ``FloatingPointError`` naming the step and ``term`` before the optimiser sees it; a
    non-finite validation score raises likewise.

    With ``distributed`` (one head; every rank calls this with the same batches) rank 0's
    weights are copied to every rank first, ``loss_fn`` returns the rank's share of the loss,
    the gradients and the loss are averaged over the ranks in one all-reduce after each
    backward pass, and rank 0's validation score is used, so every rank takes the same steps
    and stops together. The progress bar is shown on rank 0 only.
    """
    progress = (sys.stderr.isatty() if progress is None else progress) and is_main_process()
    lr, max_steps, eval_every, patience = training.lr, training.max_steps, training.eval_every, training.patience
    if distributed:
        broadcast_module(module)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=lr)
    state = [_Head() for _ in range(heads)]
    averaged = copy.deepcopy(module) if average_decay is not None else module
    running, count = torch.zeros(heads, dtype=torch.float64), 0
    module.train()
    with tqdm(total=max_steps, desc=description, disable=not progress, leave=False) as bar:
        for step in range(1, max_steps + 1):
            per_head = loss_fn(next(batches))
            loss = per_head.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # Averaged before the check, so that every rank of a distributed run raises at the same step.
            value = average_gradients(module.parameters(), loss=loss) if distributed else loss.detach()
            _check_finite(float(value), description=description, what=f"the {term}", step=step, max_steps=max_steps)
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
            optimizer.step()
            if average_decay is not None:
                _update_average(averaged, module, average_decay)
            running += (value if heads == 1 else per_head.detach()).to(torch.float64).cpu().reshape(heads)
            count += 1
            bar.update(1)
            if step % eval_every and step != max_steps:
                continue
            averaged.eval()
            for k in (k for k in range(heads) if state[k].active):
                with torch.no_grad():
                    score = validate_fn(averaged, k)
                if distributed:
                    (score,) = broadcast_values([score])
                where = "the validation score" if heads == 1 else f"fold {k + 1}'s validation score"
                _check_finite(score, description=description, what=where, step=step, max_steps=max_steps)
                stop = stop_if is not None and stop_if(k, len(state[k].steps) + 1)
                if state[k].record(step, -float(running[k]) / count, score, patience=patience, stop=stop):
                    state[k].kept = snapshot(averaged, k)
            module.train()
            running, count = torch.zeros(heads, dtype=torch.float64), 0
            bar.set_postfix(active=sum(h.active for h in state))
            if not any(h.active for h in state):
                break
    return [h.kept for h in state], [h.history() for h in state]


#: The module type ``train_module`` trains and returns, so callers keep their estimator's own type.
ModuleT = TypeVar("ModuleT", bound=nn.Module)


def train_module(
    module: ModuleT,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    validate_fn: Callable[[ModuleT], float],
    *,
    n_train: int,
    training: Training,
    generator: torch.Generator,
    stop_if: Callable[[int], bool] | None = None,
    **settings: Any,
) -> tuple[ModuleT, TrainingHistory]:
    """Train one module with :func:`train_heads` on random mini-batches of ``n_train`` rows; return it at its best validation score.

    ``loss_fn(batch_idx)`` is the loss of a batch of row indices (:func:`minibatches`, drawn from
    ``generator``); ``validate_fn(module)`` its validation score (higher is better);
    ``stop_if(evaluations)`` may end training early; ``training`` sets the batch size and the
    loop's settings. ``settings`` are the other options of :func:`train_heads` (``progress``,
    ``description``, ``term``, ``grad_clip``, ``average_decay``, ``distributed``). The caller's
    module (not the averaged copy) carries the result, so an instance passed in gets trained.
    """
    for name in ("max_steps", "eval_every", "patience"):
        check_positive_int(getattr(training, name), name=name)
    batch_size = warn_shrunk_batch(check_positive_int(training.batch_size, name="batch_size", minimum=2), n_train)
    (best,), (history,) = train_heads(
        module,
        loss_fn,
        lambda averaged, _: validate_fn(averaged),  # type: ignore[arg-type]
        lambda averaged, _: copy.deepcopy(averaged.state_dict()),
        batches=minibatches(n_train, batch_size, generator=generator),
        heads=1,
        training=training,
        stop_if=None if stop_if is None else (lambda _, evaluations: stop_if(evaluations)),
        **settings,
    )
    module.load_state_dict(best)
    module.eval()
    return module, history


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
