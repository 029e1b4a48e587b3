"""Conditional sampling for conditional-MI estimation: k-NN product samples x ~ p(x | z)."""

from ._knn import KNNSampler

__all__ = ["KNNSampler"]
