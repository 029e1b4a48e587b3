"""The k-nearest-neighbour family: KSG's estimate of the log density ratio, nothing trained."""

from __future__ import annotations

import torch

from ..critics import Critic, KSGCritic
from .family import CriticFamily, Fold

__all__ = ["KNNFamily"]


class KNNFamily(CriticFamily):
    """The KSG estimate of the log density ratio from the training rows (:class:`~miestim.critics.KSGCritic`).

    Raced with the fold's training rows as its reference rows; once kept, nothing in it being
    trained, it is rebuilt on all of the fold's non-test rows, as a larger reference set lowers
    KSG's bias.

    Args:
        k: neighbours (default 3, KSG's usual choice).
        max_dim: most columns of x and y together for which the family is raced (default 4):
            KSG's bias, and the cost of its neighbour search, grow with the dimension. ``None``:
            any dimension.
        block: product pairs per validation row when the race scores its JS objective (rows are
            scored in blocks of this many; default 64): every pair is a neighbour search.
    """

    name = "knn"

    def __init__(self, k: int = 3, max_dim: int | None = 4, block: int = 64) -> None:
        self.k, self.max_dim, self.block = k, max_dim, block

    def applies(self, x_dim: int, y_dim: int) -> bool:
        return self.max_dim is None or x_dim + y_dim <= self.max_dim

    def fit(
        self, x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> KSGCritic:
        return KSGCritic(x_train, y_train, k=self.k)

    def validation_block(self, eval_batch_size: int) -> int:
        return self.block

    def finalize(self, critic: Critic, fold: Fold) -> Critic:
        return KSGCritic(*fold.scaled(torch.cat([fold.rows.train, fold.rows.validation])), k=self.k)

    def __repr__(self) -> str:
        return f"KNNFamily(k={self.k}, max_dim={self.max_dim}, block={self.block})"
