"""Checks for covariance matrices, index sets and task options used by ``miestim.gaussian``.

These are specific to the Gaussian ground truth (covariances and coordinate index sets);
the generic checks (integers, floats, choices) come from :mod:`miestim._validation`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validation import as_sample_matrix, check_consistent_length

Indices = int | Sequence[int] | np.ndarray
"""One coordinate index or a sequence of coordinate indices into a covariance matrix."""


def as_covariance(cov: Any, *, name: str = "cov") -> np.ndarray:
    """Validate ``cov`` as a symmetric positive-definite matrix; return it as float64 numpy.

    Raises:
        TypeError: not a numpy array / torch tensor / nested sequence, or non-real dtype.
        ValueError: not a square 2-D matrix, non-finite entries, not symmetric, or not
            positive definite (the message names the smallest eigenvalue).
    """
    if isinstance(cov, torch.Tensor):
        if cov.dtype.is_complex or cov.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers; got dtype {cov.dtype}.")
        array = cov.detach().cpu().to(torch.float64).numpy()
    elif isinstance(cov, (np.ndarray, list, tuple)):
        array = np.asarray(cov)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
        array = array.astype(np.float64)
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor of shape (d, d); got {type(cov).__name__}.")
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix (d, d); got shape {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must contain only finite values; got NaN or infinite entries.")
    scale = max(1.0, float(np.abs(array).max()))
    asymmetry = float(np.abs(array - array.T).max())
    if asymmetry > 1e-8 * scale:
        raise ValueError(
            f"{name} must be symmetric; the largest |cov[i, j] - cov[j, i]| is {asymmetry:.3g}. "
            "Pass (cov + cov.T) / 2 if the asymmetry is rounding error."
        )
    array = (array + array.T) / 2
    smallest = float(np.linalg.eigvalsh(array)[0])
    if smallest <= 1e-12 * scale:
        raise ValueError(
            f"{name} must be positive definite (all eigenvalues > 0); its smallest eigenvalue is {smallest:.3g}. "
            "Remove redundant coordinates or add a small ridge to the diagonal."
        )
    return array


def as_indices(idx: Any, *, name: str, dim: int, allow_empty: bool = False) -> tuple[int, ...]:
    """Validate a coordinate index set into a ``(dim, dim)`` covariance; return it as a tuple.

    Accepts one integer or a sequence / 1-D integer array of them.

    Raises:
        TypeError: an entry is not an integer (bools are refused).
        ValueError: empty (unless ``allow_empty``), an entry outside ``[0, dim)``, or a duplicate.
    """
    if isinstance(idx, torch.Tensor):
        idx = idx.tolist()
    if isinstance(idx, numbers.Integral) and not isinstance(idx, bool):
        idx = [idx]
    if isinstance(idx, (str, bytes)) or not isinstance(idx, (Sequence, np.ndarray, range)):
        raise TypeError(f"{name} must be an integer or a sequence of integers; got {type(idx).__name__}.")
    entries = list(np.asarray(idx).ravel()) if isinstance(idx, np.ndarray) else list(idx)
    for entry in entries:
        if isinstance(entry, (bool, np.bool_)) or not isinstance(entry, numbers.Integral):
            raise TypeError(f"{name} must contain integers only; got {entry!r} ({type(entry).__name__}).")
    entries = [int(e) for e in entries]
    if not entries and not allow_empty:
        raise ValueError(f"{name} must contain at least one index; got an empty index set.")
    outside = [e for e in entries if not 0 <= e < dim]
    if outside:
        raise ValueError(f"{name} entries must lie in [0, {dim}) for a {dim}x{dim} covariance; got {outside}.")
    duplicates = sorted({e for e in entries if entries.count(e) > 1})
    if duplicates:
        raise ValueError(f"{name} must not repeat an index; got duplicates {duplicates}.")
    return tuple(entries)


def check_disjoint(**index_sets: tuple[int, ...]) -> None:
    """Raise when two of the named index sets share a coordinate."""
    names = list(index_sets)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = sorted(set(index_sets[first]) & set(index_sets[second]))
            if shared:
                raise ValueError(f"{first} and {second} must not overlap; both contain indices {shared}.")


def check_float_dtype(dtype: Any) -> np.dtype:
    """Check ``dtype`` names a numpy floating dtype (float32 by default in samplers)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.kind != "f":
        raise TypeError(f"dtype must be a numpy floating dtype such as np.float32 or np.float64; got {dtype!r}.")
    return resolved


def check_correlation(value: Any, *, name: str) -> float:
    """Check ``value`` is a real number in the open interval (-1, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in (-1, 1); got {value!r} ({type(value).__name__}).")
    value = float(value)
    if not (np.isfinite(value) and -1.0 < value < 1.0):
        raise ValueError(f"{name} must lie in the open interval (-1, 1); got {value}.")
    return value


def as_points(dims: dict[str, int], **values: Any) -> list[np.ndarray]:
    """Validate the named point sets as ``(n, dims[name])`` float64 arrays with one common ``n``.

    A 1-D input is one column. Raises TypeError / ValueError naming the argument (via
    :func:`miestim._validation.as_sample_matrix`) and for a wrong width or mismatched lengths.
    """
    tensors = {name: as_sample_matrix(value, name=name, dtype=torch.float64) for name, value in values.items()}
    for name, tensor in tensors.items():
        if tensor.shape[1] != dims[name]:
            raise ValueError(f"{name} must have {dims[name]} column(s), the task's dim_{name}; got shape {tuple(tensor.shape)}.")
    check_consistent_length(**tensors)
    return [tensor.cpu().numpy() for tensor in tensors.values()]
