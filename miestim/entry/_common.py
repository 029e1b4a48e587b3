"""What the entry points share: the process group, training length, the cross-fit's result, a seed all ranks agree on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from .._validation import check_optional_bool, check_positive_int, check_split, fresh_seed
from ..critics import Critic
from ..crossfit import FoldReport, InSampleReadout
from ..distributed import broadcast_values, get_world_size, is_distributed
from ..heldout import summarize_rows
from ..result import EstimateResult
from ..training import check_finite_estimate

__all__ = ["crossfit_result", "resolve_distributed", "resolve_seed", "resolve_steps", "validation_share"]


def resolve_distributed(distributed: bool | None) -> bool:
    """Whether a one-call estimator runs as one rank of a process group (``None``: when one of > 1 processes is initialised)."""
    distributed = check_optional_bool(distributed, name="distributed")
    if distributed and not is_distributed():
        raise ValueError(
            f"distributed=True, but no torch.distributed process group of more than one process is initialised (world size "
            f"{get_world_size()}); launch with torchrun and call torch.distributed.init_process_group first, or pass distributed=None."
        )
    return is_distributed() if distributed is None else distributed


def resolve_steps(max_steps: int | None, max_epochs: int | None, n_train: int, batch_size: int, default: int) -> int:
    """Training length in steps from ``max_steps`` or ``max_epochs`` (not both)."""
    if max_steps is not None and max_epochs is not None:
        raise ValueError("give max_steps or max_epochs, not both.")
    if max_epochs is not None:
        return check_positive_int(max_epochs, name="max_epochs") * max(1, n_train // min(batch_size, n_train))
    return check_positive_int(max_steps if max_steps is not None else default, name="max_steps")


def resolve_seed(seed: int | None, *, distributed: bool) -> int:
    """The run's seed: as given, or for ``None`` a :func:`~miestim._validation.fresh_seed` (rank 0's on every rank), never from a global RNG."""
    if seed is None:
        return int(broadcast_values([fresh_seed()])[0]) if distributed else fresh_seed()
    return seed


def crossfit_result(
    values: torch.Tensor,
    reports: Sequence[FoldReport],
    critics: Sequence[Critic],
    *,
    quantity: str,
    method: str,
    extra: dict[str, Any],
    start: float,
    distributed: bool,
    description: str,
    in_sample: InSampleReadout | None = None,
) -> EstimateResult:
    """The result of a cross-fitted estimate from its per-row values (every row held out once), the same on every rank.

    With ``in_sample``, its values (bias-corrected or leave-one-out) replace the held-out ones (``extra["readout"]``
    says which was read out; ``extra["held_out"]`` keeps the held-out value and stderr either way).
    """
    held_out = summarize_rows(values)
    evaluated_on = f"every row once, by a critic of a {extra['folds']}-fold cross-fit that neither trained nor stopped on it"
    extra = extra | {"readout": "held-out", "held_out": held_out}
    if in_sample is not None:
        values, critics, evaluated_on = in_sample.values, [in_sample.critic], in_sample.description
        extra |= {"readout": in_sample.readout, "bias_correction": in_sample.correction}
    value, stderr = summarize_rows(values)
    if in_sample is not None and in_sample.stderr is not None:
        stderr = in_sample.stderr
    if distributed:
        # Every rank ran the same deterministic computation; rank 0's numbers are the result.
        value, stderr = broadcast_values([value, stderr])
    check_finite_estimate(value, description=description)
    return EstimateResult(
        value=value,
        stderr=stderr,
        history=reports[0].history,
        estimator=torch.nn.ModuleList(critics),
        seconds=time.perf_counter() - start,
        quantity=quantity,
        method=method,
        n_train=reports[0].n_train,
        n_validation=reports[0].n_validation,
        n_test=values.numel(),
        extra=extra,
        evaluated_on=evaluated_on,
        row_values=values,
    )


def validation_share(split: Sequence[float]) -> float:
    """The validation rows' share of a cross-fitting fold's non-test rows: ``split``'s validation fraction over its first two."""
    train, validation, _ = check_split(split)
    return validation / (train + validation)
