"""The folds of a cross-fit: disjoint held-out rows covering the data, each with training and validation rows from the rest."""

from __future__ import annotations

import torch

from ..training import Split

__all__ = ["fold_splits"]


def fold_splits(n: int, folds: int, validation_fraction: float, *, generator: torch.Generator) -> list[Split]:
    """``folds`` disjoint test folds covering ``range(n)``; the rest of each split into train and validation."""
    order = torch.randperm(n, generator=generator)
    parts = list(order.tensor_split(folds))
    splits = []
    for k, test in enumerate(parts):
        rest = torch.cat([p for j, p in enumerate(parts) if j != k])
        rest = rest[torch.randperm(rest.numel(), generator=generator)]
        n_val = max(2, round(rest.numel() * validation_fraction))
        if rest.numel() - n_val < 2 or test.numel() < 4:
            raise ValueError(f"{n} samples are too few for {folds} folds: a fold has {test.numel()} test and {rest.numel() - n_val} training rows.")
        splits.append(Split(train=rest[n_val:], validation=rest[:n_val], test=test))
    return splits
