"""Data of the sentiment example: CMU-MOSI / MOSEI / CH-SIMS loaders, writers of their file layouts, and a synthetic dataset.

Every loader returns a :class:`SentimentData` of valid-first padded sequences (see
:mod:`examples.sentiment.data._split`).
"""

from ._split import SentimentData, SentimentSplit
from .mmsa import MMSA_NAMES, find_mmsa, load_mmsa, write_mmsa
from .sdk import load_sdk, write_sdk
from .synthetic import SyntheticConfig, make_synthetic, write_mosi_shaped
from .unaligned import UNALIGNED_NAMES, find_unaligned, load_unaligned, write_unaligned

__all__ = [
    "SentimentData",
    "SentimentSplit",
    "MMSA_NAMES",
    "SyntheticConfig",
    "UNALIGNED_NAMES",
    "find_mmsa",
    "find_unaligned",
    "load_mmsa",
    "load_sdk",
    "load_unaligned",
    "make_synthetic",
    "write_mmsa",
    "write_mosi_shaped",
    "write_sdk",
    "write_unaligned",
]
